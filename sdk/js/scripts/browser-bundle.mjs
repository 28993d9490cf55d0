// The browser bundle: the full entry (src/index.ts) as one minified ES module, exactly as the ESM
// file of dist/ (same esbuild options). `npm run build` writes it to web/sdk/parley.js, where
// parleyd's demo pages import it; the browser tests build their own copy with this function (so
// they never read files another build is rewriting).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** esbuild options shared by every bundle of dist/ and the browser bundle. */
export const common = {
  bundle: true,
  platform: 'neutral',
  target: 'es2022',
  legalComments: 'none',
  minify: true,
  banner: { js: `/* ${pkg.name} ${pkg.version} | MIT */` },
  logLevel: 'warning',
};

/** Writes the full SDK as a browser ES module to `outfile`. */
export async function buildBrowserBundle(outfile) {
  await build({ ...common, entryPoints: [join(root, 'src', 'index.ts')], format: 'esm', outfile });
}
