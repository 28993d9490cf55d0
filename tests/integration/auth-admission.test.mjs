// Admission with publishable keys (PROTOCOL.md §3.1, §3.2, §3.6): the welcome frame, credential
// parameters, unknown keys and allowed origins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectRefused, UUID_V4, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_admission000000000000000000000001';
const PK_ORIGINS = 'pk_live_admission000000000000000000000002';
const PK_PORT80 = 'pk_live_admission000000000000000000000003';
const PK_PLUS = 'pk_live_admission+plus00000000000000000004';
const SK_ID = 'sk_id_admission0000000000000000000000001';
const SK_SECRET = 'sk_secret_admission000000000000000000001';

let srv;
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'adm',
      keys: [
        { type: 'publishable', id: PK, channels: ['**'], actions: ALL },
        { type: 'publishable', id: PK_ORIGINS, channels: ['**'], allowed_origins: ['https://example.com', 'http://localhost:8080'] },
        { type: 'publishable', id: PK_PORT80, channels: ['**'], allowed_origins: ['http://a.test:80'] },
        { type: 'publishable', id: PK_PLUS, channels: ['**'] },
        { type: 'secret', id: SK_ID, secret: SK_SECRET, channels: ['**'] },
      ],
    }]),
  });
});
after(() => srv?.stop());

test('welcome has exactly the specified members for a publishable key', async () => {
  const c = await RawClient.connect(srv.ws, { key: PK });
  const w = await c.next(() => true);
  const now = Math.floor(Date.now() / 1000);
  assert.equal(w.type, 'welcome', 'the first frame is the welcome');
  assert.deepEqual(Object.keys(w).sort(), ['expiresAt', 'maxMessageSize', 'peerId', 'serverTime', 'type']);
  assert.ok('expiresAt' in w);
  assert.equal(w.expiresAt, null);
  assert.ok(Number.isInteger(w.serverTime), `serverTime is an integer: ${w.serverTime}`);
  assert.ok(Math.abs(w.serverTime - now) <= 5, `serverTime ${w.serverTime} near now ${now}`);
  assert.equal(w.maxMessageSize, 65536);
  assert.match(w.peerId, UUID_V4);
  // Raw text: serverTime is written as an integer, not 1.7e9 or with a fraction.
  assert.match(c.raw(w), /"serverTime":\d+[,}]/);
  await c.close();
});

test('every publishable-key connection gets a different lowercase UUID v4 peerId', async () => {
  const cs = await Promise.all(Array.from({ length: 8 }, () => RawClient.open(srv.ws, { key: PK })));
  const ids = cs.map((c) => c.peerId);
  for (const id of ids) assert.match(id, UUID_V4);
  assert.equal(new Set(ids).size, ids.length, `distinct peerIds: ${ids}`);
  await Promise.all(cs.map((c) => c.close()));
});

test('welcome is sent exactly once', async () => {
  const c = await RawClient.open(srv.ws, { key: PK });
  c.send({ type: 'ping' });
  await c.next('pong');
  await c.none('welcome', 300);
  assert.equal(c.all.filter((f) => f.type === 'welcome').length, 1);
  await c.close();
});

test('frames sent before the welcome are processed after it, in order', async () => {
  // ws sends as soon as the socket opens, possibly before parleyd has sent the welcome.
  const c = await RawClient.connect(srv.ws, { key: PK });
  c.send({ type: 'subscribe', channel: 'early', requestId: 'e1' });
  c.send({ type: 'ping' });
  c.send({ type: 'bogus', requestId: 'e2' });
  const seq = [];
  for (let i = 0; i < 5; i++) seq.push(await c.next(() => true));
  assert.equal(seq[0].type, 'welcome');
  assert.deepEqual(seq[1], { type: 'ack', requestId: 'e1' });
  assert.deepEqual(seq[2], { type: 'presence', channel: 'early', joined: [], left: [] });
  assert.deepEqual(seq[3], { type: 'pong' });
  assert.equal(seq[4].type, 'error');
  assert.equal(seq[4].code, 'unknown_type');
  assert.equal(seq[4].requestId, 'e2');
  await c.close();
});

test('no credential parameter → 4001 missing_credential', async () => {
  await expectRefused(srv.ws, { query: '' }, 4001, 'missing_credential');
  await expectRefused(srv.ws, { query: 'foo=bar&keys=x&tokens=y' }, 4001, 'missing_credential');
  await expectRefused(srv.ws, { query: `KEY=${PK}` }, 4001, 'missing_credential');
});

test('both credentials, or one repeated → 4001 conflicting_credentials', async () => {
  await expectRefused(srv.ws, { query: `key=${PK}&token=abc` }, 4001, 'conflicting_credentials');
  await expectRefused(srv.ws, { query: `token=abc&key=${PK}` }, 4001, 'conflicting_credentials');
  await expectRefused(srv.ws, { query: `key=${PK}&key=${PK}` }, 4001, 'conflicting_credentials');
  await expectRefused(srv.ws, { query: 'token=a&token=b' }, 4001, 'conflicting_credentials');
  await expectRefused(srv.ws, { query: `key=${PK}&key` }, 4001, 'conflicting_credentials');
  await expectRefused(srv.ws, { query: `key=${PK}&%6bey=${PK}` }, 4001, 'conflicting_credentials');
  // The credential check (step 1) comes before the key check (step 2).
  await expectRefused(srv.ws, { query: 'key=nope&key=nope' }, 4001, 'conflicting_credentials');
});

test('query parameters are percent-decoded; other parameters are ignored', async () => {
  const encoded = [...PK].map((ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  const a = await RawClient.open(srv.ws, { query: `key=${encoded}` });
  assert.match(a.peerId, UUID_V4);
  const b = await RawClient.open(srv.ws, { query: `%6bey=${PK}` });
  assert.match(b.peerId, UUID_V4);
  const c = await RawClient.open(srv.ws, { query: `foo=1&key=${PK}&bar&baz=%20` });
  assert.match(c.peerId, UUID_V4);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('"+" is not special in the query string', async () => {
  const a = await RawClient.open(srv.ws, { query: `key=${PK_PLUS}` }); // raw "+"
  assert.match(a.peerId, UUID_V4);
  const b = await RawClient.open(srv.ws, { query: `key=${encodeURIComponent(PK_PLUS)}` }); // %2B
  assert.match(b.peerId, UUID_V4);
  await expectRefused(srv.ws, { query: `key=${PK_PLUS.replace('+', '%20')}` }, 4001, 'invalid_key');
  await Promise.all([a.close(), b.close()]);
});

test('frames sent before a refused admission are discarded: only the close arrives', async () => {
  const c = await RawClient.connect(srv.ws, { key: 'pk_live_nope' });
  for (let i = 0; i < 5; i++) {
    try { c.send({ type: 'subscribe', channel: 'x', requestId: `b${i}` }); } catch { /* already closing */ }
  }
  const closed = await c.closedWith();
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 4001, reason: 'invalid_key' });
  assert.deepEqual(c.all, []);
});

test('unknown key → 4001 invalid_key', async () => {
  await expectRefused(srv.ws, { key: 'pk_live_doesnotexist00000000000000000000' }, 4001, 'invalid_key');
  await expectRefused(srv.ws, { key: PK.toUpperCase() }, 4001, 'invalid_key');
  await expectRefused(srv.ws, { key: `${PK}x` }, 4001, 'invalid_key');
  await expectRefused(srv.ws, { query: 'key=' }, 4001, 'invalid_key');
});

test('a secret key id or secret passed as key → 4001 invalid_key', async () => {
  await expectRefused(srv.ws, { key: SK_ID }, 4001, 'invalid_key');
  await expectRefused(srv.ws, { key: SK_SECRET }, 4001, 'invalid_key');
});

test('allowed_origins: matching origins are admitted (case-insensitive, default port dropped)', async () => {
  for (const origin of ['https://example.com', 'https://Example.com:443', 'HTTPS://EXAMPLE.COM', 'http://localhost:8080', 'http://LOCALHOST:8080']) {
    const c = await RawClient.open(srv.ws, { key: PK_ORIGINS, headers: { Origin: origin } });
    assert.match(c.peerId, UUID_V4, origin);
    assert.equal(c.welcome.expiresAt, null);
    await c.close();
  }
  for (const origin of ['http://a.test', 'http://a.test:80', 'HTTP://A.TEST']) {
    const c = await RawClient.open(srv.ws, { key: PK_PORT80, headers: { Origin: origin } });
    assert.match(c.peerId, UUID_V4, origin);
    await c.close();
  }
});

test('allowed_origins: other origins, a missing Origin and Origin: null → 4001 origin_not_allowed', async () => {
  const refused = [
    'https://example.com:8443', 'http://example.com', 'https://example.org', 'https://example.com.evil.test',
    'https://sub.example.com', 'http://localhost', 'http://localhost:8081', 'https://localhost:8080', 'null',
    'https://example.com/', 'https://example.com:443/x', '', 'example.com', 'https://example.com:0443x',
  ];
  for (const origin of refused) {
    await expectRefused(srv.ws, { key: PK_ORIGINS, headers: { Origin: origin } }, 4001, 'origin_not_allowed');
  }
  await expectRefused(srv.ws, { key: PK_ORIGINS }, 4001, 'origin_not_allowed');
  await expectRefused(srv.ws, { key: PK_PORT80, headers: { Origin: 'http://a.test:8080' } }, 4001, 'origin_not_allowed');
  await expectRefused(srv.ws, { key: PK_PORT80, headers: { Origin: 'https://a.test' } }, 4001, 'origin_not_allowed');
});

test('an empty allowed_origins list admits any Origin, none and null', async () => {
  for (const headers of [{}, { Origin: 'null' }, { Origin: 'https://anything.test' }]) {
    const c = await RawClient.open(srv.ws, { key: PK, headers });
    assert.match(c.peerId, UUID_V4);
    await c.close();
  }
});

test('key validity is checked before the origin', async () => {
  await expectRefused(srv.ws, { key: 'pk_live_unknown', headers: { Origin: 'https://evil.test' } }, 4001, 'invalid_key');
});
