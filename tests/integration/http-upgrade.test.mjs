// PROTOCOL.md §2: HTTP handling of /v1 and other paths before the upgrade, checked with raw
// HTTP requests so every status, header and body byte is what parleyd wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';
import { RawWs, acceptFor } from '../lib/rawws.mjs';

let srv;
before(async () => {
  // A generous per-IP connect bucket: this file makes many upgrade requests on purpose.
  srv = await startParleyd({ config: buildConfig({ server: { connect_burst_per_ip: 10000, connect_rate_per_ip: 1000 } }) });
});
after(() => srv?.stop());

const wsKey = () => randomBytes(16).toString('base64');

function upgradeHeaders(extra = {}) {
  return {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': wsKey(),
    'Sec-WebSocket-Version': '13',
    ...extra,
  };
}

// Every HTTP error body is {"error": code, "message": text} with Content-Type application/json.
function assertErrorBody(res, status, code) {
  assert.equal(res.status, status, `status; body ${res.body}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\s*(;|$)/i, 'Content-Type');
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `JSON object body: ${res.body}`);
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'message'], `body members: ${res.body}`);
  assert.equal(res.json.error, code);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0, 'message is not empty');
}

const req = (method, target, headers = {}, body = '') => rawHttp(srv, requestText(method, target, srv, headers, body));

test('POST /v1 gets 405 method_not_allowed with Allow: GET', async () => {
  for (const headers of [{}, upgradeHeaders()]) {
    const res = await req('POST', '/v1', headers, '{}');
    assertErrorBody(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'GET');
  }
  const put = await req('PUT', `/v1?key=${defaultKeys.pk}`, upgradeHeaders());
  assertErrorBody(put, 405, 'method_not_allowed');
  assert.equal(put.headers.allow, 'GET');
});

test('GET /v1 without an upgrade gets 426 upgrade_required with Upgrade: websocket', async () => {
  const res = await req('GET', `/v1?key=${defaultKeys.pk}`);
  assertErrorBody(res, 426, 'upgrade_required');
  assert.match(res.headers.upgrade ?? '', /^websocket$/i);
  // Upgrade to something else is "no WebSocket upgrade requested" too.
  const h2c = await req('GET', '/v1', { Upgrade: 'h2c', Connection: 'Upgrade' });
  assertErrorBody(h2c, 426, 'upgrade_required');
  assert.match(h2c.headers.upgrade ?? '', /^websocket$/i);
});

test('Sec-WebSocket-Version other than 13 gets 426 with Sec-WebSocket-Version: 13', async () => {
  for (const v of ['12', '8', '14']) {
    const res = await req('GET', `/v1?key=${defaultKeys.pk}`, upgradeHeaders({ 'Sec-WebSocket-Version': v }));
    assertErrorBody(res, 426, 'upgrade_required');
    assert.equal(res.headers['sec-websocket-version'], '13', `version ${v}`);
  }
  // The version check comes before other handshake defects (first match wins).
  const res = await req('GET', '/v1', upgradeHeaders({ 'Sec-WebSocket-Version': '12', 'Sec-WebSocket-Key': 'bad' }));
  assertErrorBody(res, 426, 'upgrade_required');
});

test('method is checked before the upgrade, and the upgrade before the version', async () => {
  const res = await req('POST', '/v1', upgradeHeaders({ 'Sec-WebSocket-Version': '12' }));
  assertErrorBody(res, 405, 'method_not_allowed');
  const res2 = await req('GET', '/v1', { 'Sec-WebSocket-Version': '12', 'Sec-WebSocket-Key': wsKey() });
  assertErrorBody(res2, 426, 'upgrade_required');
  assert.match(res2.headers.upgrade ?? '', /^websocket$/i);
});

test('other RFC 6455 handshake defects get 400 invalid_request', async () => {
  const cases = {
    'key not base64 of 16 bytes': upgradeHeaders({ 'Sec-WebSocket-Key': 'not-a-valid-key' }),
    'key of 15 bytes': upgradeHeaders({ 'Sec-WebSocket-Key': randomBytes(15).toString('base64') }),
    'key of 17 bytes': upgradeHeaders({ 'Sec-WebSocket-Key': randomBytes(17).toString('base64') }),
    'missing key': upgradeHeaders({ 'Sec-WebSocket-Key': undefined }),
    'missing Connection: upgrade': upgradeHeaders({ Connection: undefined }),
    'Connection: keep-alive only': upgradeHeaders({ Connection: 'keep-alive' }),
  };
  for (const [name, headers] of Object.entries(cases)) {
    const res = await req('GET', `/v1?key=${defaultKeys.pk}`, headers);
    assert.equal(res.status, 400, `${name}: ${res.status} ${res.body}`);
    assertErrorBody(res, 400, 'invalid_request');
  }
});

test('a valid upgrade is accepted: 101 with the right Sec-WebSocket-Accept, then welcome', async () => {
  // Header names and tokens are case-insensitive; Connection may carry several tokens.
  const variants = [
    {},
    { Connection: 'keep-alive, Upgrade' },
    { Upgrade: 'WebSocket', Connection: 'upgrade' },
  ];
  for (const headers of variants) {
    const c = await RawWs.connect(srv, { key: defaultKeys.pk, headers });
    try {
      assert.equal(c.response.status, 101, `${JSON.stringify(headers)}: ${c.response.status} ${c.response.body}`);
      assert.match(c.response.headers.upgrade ?? '', /^websocket$/i);
      assert.match(c.response.headers.connection ?? '', /\bupgrade\b/i);
      assert.equal(c.response.headers['sec-websocket-accept'], acceptFor(c.wsKey));
      const w = await c.nextJson('welcome');
      assert.equal(typeof w.peerId, 'string');
    } finally {
      c.destroy();
    }
  }
});

test('an offered subprotocol is not selected: 101 without Sec-WebSocket-Protocol', async () => {
  for (const proto of ['chat', 'chat, superchat', 'parley.v1']) {
    const c = await RawWs.connect(srv, { key: defaultKeys.pk, headers: { 'Sec-WebSocket-Protocol': proto } });
    try {
      assert.equal(c.response.status, 101, `offered ${proto}: ${c.response.status} ${c.response.body}`);
      assert.ok(!c.response.rawHeaders.some(([k]) => k === 'sec-websocket-protocol'),
        `no Sec-WebSocket-Protocol header expected, got ${JSON.stringify(c.response.headers)}`);
      const w = await c.nextJson('welcome');
      assert.equal(w.type, 'welcome');
    } finally {
      c.destroy();
    }
  }
});

test('the credential is not examined before the upgrade', async () => {
  for (const query of [undefined, 'key=pk_live_nope', 'token=garbage']) {
    const c = await RawWs.connect(srv, { query });
    try {
      assert.equal(c.response.status, 101, `query ${query}: ${c.response.status} ${c.response.body}`);
      const close = await c.closed();
      assert.equal(close.code, 4001);
    } finally {
      c.destroy();
    }
  }
});

test('upgrades to any path other than exactly /v1 get 404 not_found', async () => {
  for (const path of ['/v2', '/v1/', '/v1/x', '/', '/V1', '/v1x', '/healthz', '/v1/channels/a/publish']) {
    const res = await req('GET', `${path}?key=${defaultKeys.pk}`, upgradeHeaders());
    assertErrorBody(res, 404, 'not_found');
  }
});

test('unknown paths get 404 not_found', async () => {
  for (const path of ['/nope', '/v2', '/index.html', '/v1/nope', '/healthz/x', '/metricsx']) {
    const res = await req('GET', path, { Connection: 'close' });
    assertErrorBody(res, 404, 'not_found');
  }
});

test('a request head over 64 KB gets 431 invalid_request; one under it does not', async () => {
  const big = 'a'.repeat(70 * 1024);
  for (const [method, target, headers] of [
    ['GET', '/healthz', { 'X-Pad': big, Connection: 'close' }],
    ['GET', `/v1?key=${defaultKeys.pk}`, { ...upgradeHeaders(), 'X-Pad': big }],
    ['GET', `/v1?key=${defaultKeys.pk}&pad=${big}`, upgradeHeaders()],
  ]) {
    const res = await req(method, target, headers);
    assertErrorBody(res, 431, 'invalid_request');
  }
  // Many headers adding up to more than 64 KB.
  const many = {};
  for (let i = 0; i < 80; i++) many[`X-H${i}`] = 'b'.repeat(1000);
  assertErrorBody(await req('GET', '/healthz', { ...many, Connection: 'close' }), 431, 'invalid_request');

  // 60 KB of head is within the limit.
  const ok = await req('GET', '/healthz', { 'X-Pad': 'c'.repeat(60 * 1024), Connection: 'close' });
  assert.equal(ok.status, 200, ok.body);
  const c = await RawWs.connect(srv, { key: defaultKeys.pk, headers: { 'X-Pad': 'd'.repeat(60 * 1024) } });
  try {
    assert.equal(c.response.status, 101);
    await c.nextJson('welcome');
  } finally {
    c.destroy();
  }
});
