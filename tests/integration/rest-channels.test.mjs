// GET /v1/channels/:id/peers and POST /v1/channels/:id/publish (PROTOCOL.md §17.3, §17.4, §9.3,
// §8.2, §17.1): the peer list (de-duplicated, metadata, members only), REST fan-out with its
// recipients count, from / fromMetadata, data relayed verbatim, %2F in :id, and every error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectAck } from '../lib/proto.mjs';
import { controlConfig, restClient } from '../lib/control.mjs';

const SK_ID = 'sk_id_restchannels00000000000000000000001';
const SK = 'sk_secret_restchannels0000000000000000000001';
const NOPRES_ID = 'sk_id_restchannels000000000000000000nopres';
const NOPRES = 'sk_secret_restchannels00000000000000nopres';
const OTHER_ID = 'sk_id_restchannels0000000000000000000other';
const OTHER = 'sk_secret_restchannels000000000000000other';

let srv;
let rest;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        {
          id: 'chan',
          keys: [
            { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
            { type: 'secret', id: NOPRES_ID, secret: NOPRES, channels: ['app/**'], actions: ['subscribe', 'publish'] },
          ],
        },
        { id: 'chan-other', keys: [{ type: 'secret', id: OTHER_ID, secret: OTHER, channels: ['**'] }] },
      ],
    }),
  });
  rest = restClient(srv, { id: SK_ID, secret: SK });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

async function peer(sub, { peerMetadata, kid = SK_ID, secret = SK } = {}) {
  const c = await RawClient.open(srv.ws, { token: mintToken({ kid, secret, claims: { sub, ...(peerMetadata ? { peerMetadata } : {}) } }) });
  clients.push(c);
  return c;
}

function assertError(res, status, error) {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${res.body}`);
  assert.equal(res.json?.error, error, res.body);
  assert.equal(typeof res.json.message, 'string');
}

const sortPeers = (list) => [...list].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));

test('GET peers: empty, then every present peer once with its metadata; pattern subscribers are not members', async () => {
  const empty = await rest.get('/v1/channels/room-1/peers');
  assert.equal(empty.status, 200, empty.body);
  assert.equal(empty.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(empty.json, { channel: 'room-1', peers: [] });

  const alice1 = await peer('alice', { peerMetadata: { name: 'Alice' } });
  const alice2 = await peer('alice', { peerMetadata: { name: 'Alice 2' } });
  const carol = await peer('carol');
  const watcher = await peer('watcher');
  await expectAck(alice1, { type: 'subscribe', channel: 'room-1' });
  await expectAck(carol, { type: 'subscribe', channel: 'room-1' });
  await expectAck(alice2, { type: 'subscribe', channel: 'room-1' });
  await expectAck(watcher, { type: 'subscribe', channel: 'room-*' });
  const res = await rest.get('/v1/channels/room-1/peers');
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(res.json).sort(), ['channel', 'peers']);
  // Presence metadata is that of the earliest-subscribed connection (§8.1); no one is excluded.
  assert.deepEqual(sortPeers(res.json.peers), [{ peerId: 'alice', metadata: { name: 'Alice' } }, { peerId: 'carol' }]);
  // SHOULD: in the order the peers became present.
  assert.deepEqual(res.json.peers.map((p) => p.peerId), ['alice', 'carol']);

  // alice's first connection leaves: alice stays present, now with the second one's metadata.
  await expectAck(alice1, { type: 'unsubscribe', channel: 'room-1' });
  const after1 = await rest.get('/v1/channels/room-1/peers');
  assert.deepEqual(sortPeers(after1.json.peers), [{ peerId: 'alice', metadata: { name: 'Alice 2' } }, { peerId: 'carol' }]);
  await alice2.close();
  const after2 = await rest.get('/v1/channels/room-1/peers');
  assert.deepEqual(after2.json.peers, [{ peerId: 'carol' }]);
});

test('GET peers: %2F in :id, apps are isolated, members without the presence action are listed', async () => {
  const a = await peer('slash');
  await expectAck(a, { type: 'subscribe', channel: 'app/room' });
  const res = await rest.get('/v1/channels/app%2Froom/peers');
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, { channel: 'app/room', peers: [{ peerId: 'slash' }] });
  // The unencoded path is another route shape: not this channel.
  assert.notEqual((await rest.get('/v1/channels/app/room/peers')).status, 200);
  // A member whose key lacks `presence` is still present.
  const np = await peer('nopres', { kid: NOPRES_ID, secret: NOPRES });
  await expectAck(np, { type: 'subscribe', channel: 'app/room' });
  const both = await rest.get('/v1/channels/app%2Froom/peers');
  assert.deepEqual(sortPeers(both.json.peers), [{ peerId: 'nopres' }, { peerId: 'slash' }]);
  // Another app's same channel is empty.
  const other = restClient(srv, { id: OTHER_ID, secret: OTHER });
  assert.deepEqual((await other.get('/v1/channels/app%2Froom/peers')).json, { channel: 'app/room', peers: [] });
  // Percent-decoded once: %252F is the literal text "%2F".
  const lit = await rest.get('/v1/channels/x%252Fy/peers');
  assert.deepEqual(lit.json, { channel: 'x%2Fy', peers: [] });
  // Non-ASCII names are percent-encoded UTF-8.
  const u = await rest.get(`/v1/channels/${encodeURIComponent('salon-é')}/peers`);
  assert.deepEqual(u.json, { channel: 'salon-é', peers: [] });
});

test('GET peers errors: invalid channel 400, reserved 400, no presence action 403, outside patterns 403', async () => {
  for (const id of ['a*b', '**', encodeURIComponent('x'.repeat(257)), '%00', 'a%1Fb', '%7F']) {
    assertError(await rest.get(`/v1/channels/${id}/peers`), 400, 'invalid_request');
  }
  for (const id of ['_system%2Fx', '_SYSTEM%2Fx', '_internal%2Fa', '_metered%2Fb']) {
    assertError(await rest.get(`/v1/channels/${id}/peers`), 400, 'channel_reserved');
  }
  const np = restClient(srv, { id: NOPRES_ID, secret: NOPRES });
  assertError(await np.get('/v1/channels/app%2Froom/peers'), 403, 'action_not_permitted');
  assertError(await np.get('/v1/channels/other/peers'), 403, 'action_not_permitted');
  assertError(await np.post('/v1/channels/other/publish', { data: 1 }), 403, 'channel_not_authorized');
  // 256 bytes is fine.
  assert.equal((await rest.get(`/v1/channels/${'x'.repeat(256)}/peers`)).status, 200);
});

test('POST publish: fans out to exact and pattern subscribers once each; recipients counts connections', async () => {
  const a = await peer('pa');
  const b = await peer('pb');
  const both = await peer('pboth');
  const otherApp = await peer('po', { kid: OTHER_ID, secret: OTHER });
  await expectAck(a, { type: 'subscribe', channel: 'news' });
  await expectAck(b, { type: 'subscribe', channel: 'n*' });
  await expectAck(both, { type: 'subscribe', channel: 'news' });
  await expectAck(both, { type: 'subscribe', channel: '**' });
  await expectAck(otherApp, { type: 'subscribe', channel: 'news' });
  const res = await rest.post('/v1/channels/news/publish', { data: { hello: 'world' } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(res.json, { channel: 'news', recipients: 3 });
  for (const c of [a, b, both]) {
    assert.deepEqual(await c.next('message'), { type: 'message', channel: 'news', from: 'system', data: { hello: 'world' } });
    await c.none('message', 200);
  }
  await otherApp.none('message', 200);
  // Close the pattern subscribers, which match every later channel.
  await Promise.all([a.close(), b.close(), both.close(), otherApp.close()]);
  // No subscriber: recipients 0, still 200.
  assert.deepEqual((await rest.post('/v1/channels/nobody-here/publish', { data: 1 })).json, { channel: 'nobody-here', recipients: 0 });
});

test('POST publish: data relayed verbatim, null data, from, peerMetadata → fromMetadata for opted-in receivers', async () => {
  const plain = await peer('rx-plain');
  const meta = await peer('rx-meta');
  await expectAck(plain, { type: 'subscribe', channel: 'verb' });
  await expectAck(meta, { type: 'subscribe', channel: 'verb', includeSenderMetadata: true });
  // Exact bytes of data: whitespace, number forms, escapes and member order are kept.
  const dataText = '{ "b" : 1.0, "a":[1e3, -0, 2.50],"s":"\\u00e9\\n" , "z" : null }';
  const body = `{"from":"backend-1","peerMetadata":{"role":"server"},"data":${dataText}}`;
  const res = await rest.post('/v1/channels/verb/publish', body);
  assert.deepEqual(res.json, { channel: 'verb', recipients: 2 });
  const m1 = await plain.next('message');
  assert.equal(m1.from, 'backend-1');
  assert.equal(m1.fromMetadata, undefined);
  assert.ok(plain.raw(m1).includes(`"data":${dataText}`), `data not verbatim: ${plain.raw(m1)}`);
  const m2 = await meta.next('message');
  assert.deepEqual(m2.fromMetadata, { role: 'server' });
  assert.equal(m2.from, 'backend-1');
  assert.ok(meta.raw(m2).includes(`"data":${dataText}`));
  // null data is delivered as "data":null; a string too.
  await rest.post('/v1/channels/verb/publish', { data: null });
  for (const c of [plain, meta]) assert.deepEqual(await c.next('message'), { type: 'message', channel: 'verb', from: 'system', data: null });
  assert.ok(plain.raw(plain.all.at(-1)).includes('"data":null'));
  await rest.post('/v1/channels/verb/publish', { data: 'text', from: 'user:1 x' });
  for (const c of [plain, meta]) assert.deepEqual(await c.next('message'), { type: 'message', channel: 'verb', from: 'user:1 x', data: 'text' });
  // Without peerMetadata no receiver gets fromMetadata.
  await rest.post('/v1/channels/verb/publish', { data: 2 });
  assert.deepEqual(await meta.next('message'), { type: 'message', channel: 'verb', from: 'system', data: 2 });
});

test('POST publish: %2F channel ids; publish reaches the concrete name', async () => {
  const c = await peer('slash-rx');
  await expectAck(c, { type: 'subscribe', channel: 'a/b' });
  const res = await rest.post('/v1/channels/a%2Fb/publish', { data: 'x' });
  assert.deepEqual(res.json, { channel: 'a/b', recipients: 1 });
  assert.deepEqual(await c.next('message'), { type: 'message', channel: 'a/b', from: 'system', data: 'x' });
});

test('POST publish errors: missing/oversize data, bad from, bad peerMetadata, invalid/reserved channel', async () => {
  assertError(await rest.post('/v1/channels/news/publish', {}), 400, 'invalid_request');
  assertError(await rest.post('/v1/channels/news/publish', { from: 'x' }), 400, 'invalid_request');
  // data text at most max_message_size (65536) bytes — but the body cap (32768) comes first for
  // anything that large, so use a server-sized check only up to the body cap here.
  assert.equal((await rest.post('/v1/channels/news/publish', { data: 'x'.repeat(30000) })).status, 200);
  for (const from of ['', 'x'.repeat(129), 'é', 'a\tb', 7, null, ['a']]) {
    assertError(await rest.post('/v1/channels/news/publish', { data: 1, from }), 400, 'invalid_request');
  }
  assert.equal((await rest.post('/v1/channels/news/publish', { data: 1, from: 'x'.repeat(128) })).status, 200);
  for (const peerMetadata of ['s', 1, [1], true]) {
    assertError(await rest.post('/v1/channels/news/publish', { data: 1, peerMetadata }), 400, 'invalid_request');
  }
  assertError(await rest.post('/v1/channels/news/publish', { data: 1, peerMetadata: { x: 'a'.repeat(4089) } }), 400, 'invalid_request');
  assert.equal((await rest.post('/v1/channels/news/publish', { data: 1, peerMetadata: { x: 'a'.repeat(4088) } })).status, 200);
  for (const id of ['a*b', 'room-*', '**', '%01x']) {
    assertError(await rest.post(`/v1/channels/${id}/publish`, { data: 1 }), 400, 'invalid_request');
  }
  for (const id of ['_system%2Fx', '_Internal%2Fx', '_metered%2Fx']) {
    assertError(await rest.post(`/v1/channels/${id}/publish`, { data: 1 }), 400, 'channel_reserved');
  }
});

test('POST publish: data over max_message_size → 400 (small max_message_size server)', async (t) => {
  const small = await startParleyd({
    config: controlConfig({
      server: { max_message_size: 1000 },
      apps: [{ id: 'small', keys: [{ type: 'secret', id: SK_ID, secret: SK, channels: ['**'] }] }],
    }),
  });
  t.after(() => small.stop());
  const r = restClient(small, { id: SK_ID, secret: SK });
  // "x…" with n characters is n + 2 bytes of JSON text.
  assert.equal((await r.post('/v1/channels/c/publish', { data: 'x'.repeat(998) })).status, 200);
  assertError(await r.post('/v1/channels/c/publish', { data: 'x'.repeat(999) }), 400, 'invalid_request');
  // Measured on the text as received: whitespace inside data counts.
  const spaced = `{"data":[${' '.repeat(997)}1]}`; // data text: 1000 bytes
  assert.equal((await r.post('/v1/channels/c/publish', spaced)).status, 200);
  assertError(await r.post('/v1/channels/c/publish', `{"data":[${' '.repeat(998)}1]}`), 400, 'invalid_request');
});
