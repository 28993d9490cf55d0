// POST /v1/tokens (PROTOCOL.md §17.2, §3.3): the minted token's exact header, claims and
// signature, the default and bounds of expiresInSec, every 400, the 403s for channels and
// permissions beyond the calling key, and that the minted token is admitted with the given scope.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { b64url } from '../lib/jwt.mjs';
import { expectAck, expectError } from '../lib/proto.mjs';
import { controlConfig, restClient, nowSec } from '../lib/control.mjs';

const SK_ID = 'sk_id_resttokens00000000000000000000000001';
const SK = 'sk_secret_resttokens000000000000000000000001';
const NARROW_ID = 'sk_id_resttokens000000000000000000000narrow';
const NARROW = 'sk_secret_resttokens0000000000000000000narrow';
const SHORT_ID = 'sk_id_resttokens0000000000000000000000short';
const SHORT = 'sk_secret_resttokens00000000000000000000short';

let srv;
let rest;
let narrow;
let short;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        {
          id: 'tokens',
          keys: [
            { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
            { type: 'secret', id: NARROW_ID, secret: NARROW, channels: ['app/**', 'lobby', 'devices/*/events'], actions: ['subscribe', 'presence'] },
          ],
        },
        { id: 'short', settings: { max_token_lifetime: 600 }, keys: [{ type: 'secret', id: SHORT_ID, secret: SHORT, channels: ['**'] }] },
      ],
    }),
  });
  rest = restClient(srv, { id: SK_ID, secret: SK });
  narrow = restClient(srv, { id: NARROW_ID, secret: NARROW });
  short = restClient(srv, { id: SHORT_ID, secret: SHORT });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const decode = (seg) => JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));

// Checks the token's shape and signature and returns { header, claims, headerText, payloadText }.
function inspect(token, kid, secret) {
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'three base64url segments, no padding');
  const [h, p, s] = token.split('.');
  const expected = b64url(createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${h}.${p}`, 'ascii').digest());
  assert.equal(s, expected, 'HS256 signature with the calling key\'s secret');
  const header = decode(h);
  assert.deepEqual(header, { alg: 'HS256', kid, typ: 'JWT' });
  return { header, claims: decode(p) };
}

function assertError(res, status, error) {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${res.body}`);
  assert.equal(res.json?.error, error, res.body);
  assert.equal(typeof res.json.message, 'string');
}

async function open(token) {
  const c = await RawClient.open(srv.ws, { token });
  clients.push(c);
  return c;
}

test('minimal request: 200 {token, expiresAt}; claims sub, iat, exp; default lifetime 3600 s', async () => {
  const t0 = nowSec();
  const res = await rest.post('/v1/tokens', { peerId: 'alice' });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(Object.keys(res.json).sort(), ['expiresAt', 'token']);
  const { claims } = inspect(res.json.token, SK_ID, SK);
  assert.deepEqual(Object.keys(claims).sort(), ['exp', 'iat', 'sub']);
  assert.equal(claims.sub, 'alice');
  assert.ok(Number.isInteger(claims.iat) && claims.iat >= t0 - 2 && claims.iat <= nowSec() + 2, `iat ${claims.iat}`);
  assert.equal(claims.exp, claims.iat + 3600);
  assert.equal(res.json.expiresAt, claims.exp);
  // The token is admitted as peerId alice with expiresAt = exp and no metadata.
  const c = await open(res.json.token);
  assert.equal(c.peerId, 'alice');
  assert.equal(c.welcome.expiresAt, claims.exp);
  assert.equal(c.welcome.metadata, undefined);
});

test('default lifetime is min(3600, maxTokenLifetime); expiresInSec is bounded by it', async () => {
  const res = await short.post('/v1/tokens', { peerId: 'bob' });
  assert.equal(res.status, 200, res.body);
  const { claims } = inspect(res.json.token, SHORT_ID, SHORT);
  assert.equal(claims.exp - claims.iat, 600);
  assert.equal((await short.post('/v1/tokens', { peerId: 'bob', expiresInSec: 600 })).status, 200);
  assertError(await short.post('/v1/tokens', { peerId: 'bob', expiresInSec: 601 }), 400, 'invalid_request');
  // The default app allows up to 86400.
  const long = await rest.post('/v1/tokens', { peerId: 'bob', expiresInSec: 86400 });
  assert.equal(long.status, 200, long.body);
  const lc = inspect(long.json.token, SK_ID, SK).claims;
  assert.equal(lc.exp - lc.iat, 86400);
  assert.equal((await open(long.json.token)).peerId, 'bob');
  const one = await rest.post('/v1/tokens', { peerId: 'bob', expiresInSec: 1 });
  assert.equal(one.status, 200, one.body);
  const oc = inspect(one.json.token, SK_ID, SK).claims;
  assert.equal(oc.exp - oc.iat, 1);
  assert.equal(one.json.expiresAt, oc.exp);
  for (const expiresInSec of [0, -1, 86401, 1.5, '60', null, true, 1e20]) {
    assertError(await rest.post('/v1/tokens', { peerId: 'bob', expiresInSec }), 400, 'invalid_request');
  }
});

test('channels, permissions, metadata and peerMetadata become claims exactly when given', async () => {
  const body = {
    peerId: 'carol',
    channels: ['room-*', 'lobby'],
    permissions: ['subscribe', 'presence'],
    metadata: { plan: 'gold', n: [1, 2.5, null], nested: { 'é': true } },
    peerMetadata: { name: 'Carol' },
    expiresInSec: 120,
  };
  const res = await rest.post('/v1/tokens', body);
  assert.equal(res.status, 200, res.body);
  const { claims } = inspect(res.json.token, SK_ID, SK);
  assert.deepEqual(Object.keys(claims).sort(), ['channels', 'exp', 'iat', 'metadata', 'peerMetadata', 'permissions', 'sub']);
  assert.deepEqual(claims.channels, body.channels);
  assert.deepEqual(claims.permissions, body.permissions);
  assert.deepEqual(claims.metadata, body.metadata);
  assert.deepEqual(claims.peerMetadata, body.peerMetadata);
  assert.equal(claims.exp - claims.iat, 120);
  // The scope applies on the WebSocket: room-1 yes, other no; publish not permitted.
  const c = await open(res.json.token);
  assert.equal(c.peerId, 'carol');
  assert.deepEqual(c.welcome.metadata, body.metadata);
  await expectAck(c, { type: 'subscribe', channel: 'room-1' });
  await expectError(c, { type: 'subscribe', channel: 'other' }, 'channel_not_authorized');
  await expectError(c, { type: 'publish', channel: 'room-1', data: 1 }, 'action_not_permitted');
  // An empty channels array is allowed and authorizes nothing.
  const empty = await rest.post('/v1/tokens', { peerId: 'dave', channels: [], permissions: [] });
  assert.equal(empty.status, 200, empty.body);
  const ec = inspect(empty.json.token, SK_ID, SK).claims;
  assert.deepEqual(ec.channels, []);
  assert.deepEqual(ec.permissions, []);
  const d = await open(empty.json.token);
  await expectError(d, { type: 'subscribe', channel: 'room-1' }, 'action_not_permitted');
});

test('peerId validation → 400 invalid_request', async () => {
  for (const peerId of [undefined, '', 'x'.repeat(129), 'élan', 'a\nb', 'a\u007f', 7, null, ['a'], { a: 1 }]) {
    assertError(await rest.post('/v1/tokens', peerId === undefined ? {} : { peerId }), 400, 'invalid_request');
  }
  for (const peerId of ['x'.repeat(128), ' ', 'user:42', '~!@#$%^&*()']) {
    const res = await rest.post('/v1/tokens', { peerId });
    assert.equal(res.status, 200, `${peerId}: ${res.body}`);
    assert.equal(inspect(res.json.token, SK_ID, SK).claims.sub, peerId);
  }
});

test('channels / permissions validation → 400; beyond the calling key → 403', async () => {
  for (const channels of ['room', [1], [''], ['a***'], ['a\\b'], ['x'.repeat(257)], Array.from({ length: 101 }, (_, i) => `c${i}`), [null]]) {
    assertError(await rest.post('/v1/tokens', { peerId: 'a', channels }), 400, 'invalid_request');
  }
  assert.equal((await rest.post('/v1/tokens', { peerId: 'a', channels: Array.from({ length: 100 }, (_, i) => `c${i}`) })).status, 200);
  for (const permissions of ['publish', ['admin'], ['Publish'], [1], Array.from({ length: 17 }, () => 'publish')]) {
    assertError(await rest.post('/v1/tokens', { peerId: 'a', permissions }), 400, 'invalid_request');
  }
  assert.equal((await rest.post('/v1/tokens', { peerId: 'a', permissions: Array.from({ length: 16 }, () => 'send') })).status, 200);
  // Coverage (§4.4) by the narrow key's patterns app/**, lobby, devices/*/events.
  for (const channels of [['app/x'], ['app/**'], ['app/room/*'], ['app/**/x'], ['lobby'], ['devices/*/events'], ['devices/d1/events'], ['app/a', 'lobby']]) {
    const res = await narrow.post('/v1/tokens', { peerId: 'a', channels });
    assert.equal(res.status, 200, `${JSON.stringify(channels)}: ${res.body}`);
  }
  for (const channels of [['other'], ['app'], ['app**'], ['**'], ['lobby*'], ['devices/**'], ['app/x', 'other'], ['devices/*/*']]) {
    assertError(await narrow.post('/v1/tokens', { peerId: 'a', channels }), 403, 'channel_not_authorized');
  }
  // The narrow key has subscribe and presence only.
  assert.equal((await narrow.post('/v1/tokens', { peerId: 'a', permissions: ['subscribe', 'presence'] })).status, 200);
  assertError(await narrow.post('/v1/tokens', { peerId: 'a', permissions: ['publish'] }), 403, 'action_not_permitted');
  assertError(await narrow.post('/v1/tokens', { peerId: 'a', permissions: ['subscribe', 'send'] }), 403, 'action_not_permitted');
  // No action is needed to mint.
  assert.equal((await narrow.post('/v1/tokens', { peerId: 'a' })).status, 200);
});

test('metadata ≤ 8192 and peerMetadata ≤ 4096 bytes of JSON text, objects only', async () => {
  // {"x":"<n>"} is 8 + n bytes.
  assert.equal((await rest.post('/v1/tokens', { peerId: 'a', metadata: { x: 'a'.repeat(8184) } })).status, 200);
  assertError(await rest.post('/v1/tokens', { peerId: 'a', metadata: { x: 'a'.repeat(8185) } }), 400, 'invalid_request');
  assert.equal((await rest.post('/v1/tokens', { peerId: 'a', peerMetadata: { x: 'a'.repeat(4088) } })).status, 200);
  assertError(await rest.post('/v1/tokens', { peerId: 'a', peerMetadata: { x: 'a'.repeat(4089) } }), 400, 'invalid_request');
  for (const v of ['s', 1, [1], true]) {
    assertError(await rest.post('/v1/tokens', { peerId: 'a', metadata: v }), 400, 'invalid_request');
    assertError(await rest.post('/v1/tokens', { peerId: 'a', peerMetadata: v }), 400, 'invalid_request');
  }
  // A minted token carrying the largest peerMetadata is admitted, and the peer's presence carries it.
  const pm = { x: 'a'.repeat(4088) };
  const res = await rest.post('/v1/tokens', { peerId: 'big', peerMetadata: pm });
  const c = await open(res.json.token);
  await expectAck(c, { type: 'subscribe', channel: 'meta-room' });
  const peers = await rest.get('/v1/channels/meta-room/peers');
  assert.deepEqual(peers.json, { channel: 'meta-room', peers: [{ peerId: 'big', metadata: pm }] });
});
