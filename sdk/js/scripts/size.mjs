// Prints the raw and gzipped sizes of the built bundles and checks two budgets: every file of the
// pub/sub-only entry (dist/signalling.*) must stay within 6 KB gzipped, and every file of the full
// entry (dist/index.*: pub/sub + WebRTC) within 20 KB (the target is 15 KB, about the official
// UMD bundle). Gzip runs at zlib's default level (6), the level web servers and CDNs commonly use;
// level 9 is printed too.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const KB = 1024;
const budgets = {
  signalling: { limit: 6 * KB, what: 'pub/sub-only entry' },
  index: { limit: 20 * KB, target: 15 * KB, what: 'full entry (pub/sub + WebRTC)' },
};

const measure = (file) => {
  const buf = readFileSync(file);
  return { raw: buf.length, gz: gzipSync(buf).length, gz9: gzipSync(buf, { level: 9 }).length };
};
const row = (name, { raw, gz, gz9 }, note = '') =>
  console.log(`${name.padEnd(34)} ${String(raw).padStart(7)} B raw ${String(gz).padStart(6)} B gzip ${String(gz9).padStart(6)} B gzip-9 ${note}`);

const files = readdirSync(dist).filter((f) => /\.(mjs|cjs|umd\.js)$/.test(f)).sort();
const failures = [];
for (const [entry, { limit, target, what }] of Object.entries(budgets)) {
  const mine = files.filter((f) => f.startsWith(`${entry}.`));
  if (mine.length === 0) {
    console.error(`size: no dist/${entry}.* bundle; run the build first`);
    process.exit(1);
  }
  let largest = 0;
  for (const f of mine) {
    const m = measure(join(dist, f));
    largest = Math.max(largest, m.gz);
    const over = m.gz > limit;
    const note = over ? `OVER the ${limit} B limit` : `(limit ${limit} B${target ? `, target ${target} B` : ''})`;
    row(`dist/${f}`, m, note);
  }
  const verdict = largest > limit ? 'OVER the limit' : target && largest > target ? 'within the limit, above the target' : 'within budget';
  console.log(`size: ${what}: largest file ${(largest / KB).toFixed(1)} KB gzipped — ${verdict}`);
  if (largest > limit) failures.push(`${what} exceeds ${limit / KB} KB gzipped`);
}
const official = join(root, 'node_modules/@metered-ca/realtime/dist/index.umd.js');
if (existsSync(official)) row('@metered-ca/realtime index.umd.js', measure(official), '(official, for comparison)');
if (failures.length > 0) {
  console.error(`size: ${failures.join('; ')}`);
  process.exit(1);
}
