// The bundled web pages (web_root): files under the root are served, nothing outside it is.
// Regression: "GET //etc/passwd" was joined to the root as an absolute path and served
// /etc/passwd (std::filesystem::path("/root") / "/etc/passwd" is "/etc/passwd").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startParleyd } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { rawHttp } from '../lib/rawhttp.mjs';

let srv;
let root;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'parley-web-'));
  writeFileSync(join(root, 'index.html'), '<p>root index</p>');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'page.html'), '<p>sub page</p>');
  srv = await startParleyd({ config: buildConfig({ server: { web_root: root } }) });
});
after(async () => {
  await srv?.stop();
  rmSync(root, { recursive: true, force: true });
});

// Raw request line, so that no client library normalises the path.
const get = (target) => rawHttp(srv, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

test('files under web_root are served', async () => {
  for (const [target, body] of [['/', '<p>root index</p>'], ['/index.html', '<p>root index</p>'], ['/sub/page.html', '<p>sub page</p>'], ['/sub/', null], ['/sub/page.html?x=1', '<p>sub page</p>']]) {
    const r = await get(target);
    if (body === null) {
      assert.equal(r.status, 404, target);  // sub/ has no index.html
      continue;
    }
    assert.equal(r.status, 200, target);
    assert.equal(r.body, body, target);
    assert.match(r.headers['content-type'], /^text\/html/);
  }
});

test('paths that would leave web_root get 404, never a file from outside', async () => {
  const targets = [
    '//etc/passwd',
    '///etc/passwd',
    '//etc/hostname',
    `/${root}/index.html`,
    '/../../../../etc/passwd',
    '/sub/../../etc/passwd',
    '/..',
    '/sub/..%2f..%2fetc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/\\etc\\passwd',
    'etc/passwd',
    '*',
  ];
  for (const target of targets) {
    const r = await get(target);
    assert.notEqual(r.status, 200, `${target} answered 200: ${r.body.slice(0, 80)}`);
    assert.doesNotMatch(r.body, /root:|<p>/, target);
  }
});
