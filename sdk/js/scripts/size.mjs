// Prints the raw and gzipped sizes of the built bundles and fails when any file of the pub/sub-only
// entry (dist/signalling.*) is larger than 6 KB gzipped. Gzip runs at zlib's default level (6), the
// level web servers and CDNs commonly use; level 9 is printed too.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const LIMIT = 6 * 1024;

const measure = (file) => {
  const buf = readFileSync(file);
  return { raw: buf.length, gz: gzipSync(buf).length, gz9: gzipSync(buf, { level: 9 }).length };
};
const row = (name, { raw, gz, gz9 }, note = '') =>
  console.log(`${name.padEnd(34)} ${String(raw).padStart(7)} B raw ${String(gz).padStart(6)} B gzip ${String(gz9).padStart(6)} B gzip-9 ${note}`);

const files = readdirSync(dist).filter((f) => /\.(mjs|cjs|umd\.js)$/.test(f)).sort();
if (!files.some((f) => f.startsWith('signalling.'))) {
  console.error('size: no dist/signalling.* bundle; run the build first');
  process.exit(1);
}
let failed = false;
for (const f of files) {
  const m = measure(join(dist, f));
  const limited = f.startsWith('signalling.');
  const over = limited && m.gz > LIMIT;
  failed ||= over;
  row(`dist/${f}`, m, limited ? (over ? `OVER the ${LIMIT} B limit` : `(limit ${LIMIT} B)`) : '');
}
const official = join(root, 'node_modules/@metered-ca/realtime/dist/index.umd.js');
if (existsSync(official)) row('@metered-ca/realtime index.umd.js', measure(official), '(official, for comparison)');
if (failed) {
  console.error('size: the pub/sub-only entry exceeds 6 KB gzipped');
  process.exit(1);
}
console.log('size: pub/sub-only entry within 6 KB gzipped');
