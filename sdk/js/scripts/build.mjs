// Builds dist/: for each entry (index = everything, signalling = pub/sub only) an ESM (.mjs) and a
// CJS (.cjs) file with source maps, a UMD file (.umd.js, global `MeteredPeer` like the official
// bundle), all minified by esbuild, and one bundled declaration file (.d.ts) made from tsc's
// per-module declarations. Also writes the browser bundle parleyd's demo pages load
// (web/sdk/parley.js, see browser-bundle.mjs).
import { build } from 'esbuild';
import { buildBrowserBundle, common } from './browser-bundle.mjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const typesDir = join(root, '.types');
const entries = ['index', 'signalling'];
const DECL = /^(?:export )?(?:declare )?(?:abstract )?(?:class|interface|type|const|let|function|enum|namespace) ([A-Za-z_$][\w$]*)/;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const banner = common.banner.js;
const webBundle = resolve(root, '../../web/sdk/parley.js');

rmSync(dist, { recursive: true, force: true });
rmSync(typesDir, { recursive: true, force: true });
mkdirSync(dist);

for (const e of entries) {
  const entryPoints = [join(root, 'src', `${e}.ts`)];
  await build({ ...common, entryPoints, format: 'esm', sourcemap: true, outfile: join(dist, `${e}.mjs`) });
  await build({ ...common, entryPoints, format: 'cjs', sourcemap: true, outfile: join(dist, `${e}.cjs`) });
  // UMD: the minified ESM bundle with its final `export {…}` turned into a returned object.
  const min = await build({ ...common, entryPoints, format: 'esm', write: false, banner: {} });
  const code = min.outputFiles[0].text.trim();
  const m = /export\s*\{([^}]*)\};?$/.exec(code);
  if (!m) throw new Error(`${e}: no export list at the end of the ESM bundle`);
  const returned = m[1].split(',').map((s) => {
    const [local, name = local] = s.trim().split(/\s+as\s+/);
    return `${name}:${local}`;
  });
  writeFileSync(
    join(dist, `${e}.umd.js`),
    `${banner}\n(function(g,f){typeof exports=="object"&&typeof module<"u"?module.exports=f():typeof define=="function"&&define.amd?define([],f):(g=typeof globalThis<"u"?globalThis:g||self).MeteredPeer=f()})(this,function(){${code.slice(0, m.index)}return{${returned.join(',')}}});\n`,
  );
}

// Declarations: tsc writes one .d.ts per module into .types/, then they are joined per entry.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const e of entries) writeFileSync(join(dist, `${e}.d.ts`), bundleDeclarations(join(typesDir, `${e}.d.ts`), e === 'index'));
rmSync(typesDir, { recursive: true, force: true });
await buildBrowserBundle(webBundle);
console.log(`built ${entries.map((e) => `dist/${e}.{mjs,cjs,umd.js,d.ts}`).join(', ')} and ${relative(root, webBundle)}`);

// ---- declaration bundling ----
// Works on tsc's own output, which puts every top-level statement at column 0. Rules kept simple on
// purpose: local modules are only referenced through `import … from "./x.js"`, `export … from` and
// `export *`; every top-level name is unique across the modules an entry reaches (checked).

function localTarget(from, spec) {
  return resolve(dirname(from), spec.replace(/\.js$/, '.d.ts'));
}

function modulesOf(entry) {
  const order = [];
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/from "(\.[^"]+)"/g)) visit(localTarget(file, m[1]));
    order.push(file);
  };
  visit(entry);
  return order;
}


// The names a module exports: Map exported name → { local, typeOnly }.
function exportsOf(file, cache = new Map()) {
  if (cache.has(file)) return cache.get(file);
  const out = new Map();
  cache.set(file, out);
  const text = readFileSync(file, 'utf8');
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^export \* from "(\.[^"]+)";$/.exec(line))) {
      for (const [k, v] of exportsOf(localTarget(file, m[1]), cache)) out.set(k, v);
    } else if ((m = /^export (type )?\{([^}]*)\} from "(\.[^"]+)";$/.exec(line))) {
      const inner = exportsOf(localTarget(file, m[3]), cache);
      for (const spec of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
        const [name, alias = name] = spec.split(/\s+as\s+/);
        const target = inner.get(name);
        if (!target) throw new Error(`${relative(root, file)}: ${name} is not exported by ${m[3]}`);
        out.set(alias, { local: target.local, typeOnly: Boolean(m[1]) || target.typeOnly });
      }
    } else if (/^export (declare |abstract )*(class|interface|type|const|let|function|enum|namespace) /.test(line)) {
      const name = DECL.exec(line)[1];
      const typeOnly = /^export (interface|type) /.test(line);
      out.set(name, { local: name, typeOnly: typeOnly && (out.get(name)?.typeOnly ?? true) });
    } else if (/^export (default|\{|=)/.test(line) && line !== 'export {};') {
      throw new Error(`${relative(root, file)}: unsupported export form: ${line}`);
    }
  }
  return out;
}

// `dom`: the entry's types use the DOM's WebRTC types (MediaStream, RTCPeerConnection…), so the file
// references the DOM lib itself.
function bundleDeclarations(entry, dom) {
  const names = new Map();
  const parts = [];
  for (const file of modulesOf(entry)) {
    const kept = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (/^import .* from "\.[^"]*";$/.test(line)) continue;
      if (/^export (type )?\{[^}]*\} from "\./.test(line) || /^export \* from "\./.test(line) || line === 'export {};') continue;
      if (/^import /.test(line)) throw new Error(`${relative(root, file)}: external import in declarations: ${line}`);
      const m = DECL.exec(line);
      if (m) {
        if (names.has(m[1]) && names.get(m[1]) !== relative(root, file)) throw new Error(`declaration name ${m[1]} used in both ${names.get(m[1])} and ${relative(root, file)}`);
        names.set(m[1], relative(root, file));
      }
      kept.push(line.replace(/^export declare /, 'declare ').replace(/^export (interface|type|declare|const|function|enum|abstract) /, (_, k) => (k === 'const' || k === 'function' ? `declare ${k} ` : `${k} `)));
    }
    const text = kept.join('\n').trim();
    if (text) parts.push(text);
  }
  const values = [];
  const types = [];
  for (const [name, { local, typeOnly }] of exportsOf(entry)) {
    (typeOnly ? types : values).push(local === name ? name : `${local} as ${name}`);
  }
  return [
    ...(dom ? ['/// <reference lib="dom" />'] : []),
    `// Type definitions for ${pkg.name} ${pkg.version}`,
    ...parts,
    `export { ${values.join(', ')} };`,
    types.length ? `export type { ${types.join(', ')} };` : '',
    '',
  ].join('\n');
}
