// Runs the integration tests (built bundles and the scenario suites) under Node 22 or newer, where
// both SDKs use the global WebSocket instead of a `ws` factory. Not part of `npm test`.
//
// The Node binary: $NODE22 if set, else `node22` on PATH, else the current node when it is 22+.
// Build first (npm run build); PARLEYD selects the server as for npm test.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const major = (bin) => {
  const r = spawnSync(bin, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : 0;
};
const candidates = [process.env.NODE22, 'node22', process.execPath].filter(Boolean);
const node = candidates.find((bin) => major(bin) >= 22);
if (!node) {
  console.error('test:integration:node22: no Node >= 22 found; set NODE22=/path/to/node (22 or newer)');
  process.exit(1);
}
console.log(`running the integration tests with ${node} (Node ${major(node)}), global WebSocket`);
const env = { ...process.env };
delete env.PARLEY_TEST_WS;
const r = spawnSync(node, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.integration.config.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env,
});
process.exit(r.status ?? 1);
