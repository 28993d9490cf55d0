// Delivery between peers with several connections and sender metadata (PROTOCOL.md §6.1
// includeSenderMetadata, §7, §9.1, §9.2), using HS256 connection tokens minted in the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { configFor, expectAck, expectError, subscribe, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_dpeers00000000000000000000000all';
const SK_ID = 'sk_id_dpeers000000000000000000000000001';
const SK = 'sk_secret_dpeers000000000000000000000001';
let srv;
const cleanup = [];
async function peer(sub, claims = {}) {
  const c = await RawClient.open(srv.ws, { token: mintToken({ kid: SK_ID, secret: SK, claims: { sub, ...claims } }) });
  cleanup.push(c);
  return c;
}
async function anon() {
  const c = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'dpeers',
      keys: [
        { type: 'publishable', id: PK, channels: ['**'], actions: ALL },
        { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
      ],
    }]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const META = { name: 'Alice', n: 1.5, list: [1, 'two', null], nested: { 'é': true } };

test('a direct reaches every connection of the target peer', async () => {
  const bobs = [await peer('bob-d'), await peer('bob-d'), await peer('bob-d')];
  const carol = await peer('carol-d');
  await expectAck(carol, { type: 'send', to: 'bob-d', data: { hi: 1 } });
  for (const b of bobs) assert.deepEqual(await b.next('direct'), { type: 'direct', from: 'carol-d', data: { hi: 1 } });
  for (const b of bobs) await b.none('direct', 100);
});

test('a direct to one\'s own peerId reaches the other connections of that peer, not the sender', async () => {
  const a1 = await peer('alice-self');
  const a2 = await peer('alice-self');
  const a3 = await peer('alice-self');
  await expectAck(a1, { type: 'send', to: 'alice-self', data: 'note' });
  assert.deepEqual(await a2.next('direct'), { type: 'direct', from: 'alice-self', data: 'note' });
  assert.deepEqual(await a3.next('direct'), { type: 'direct', from: 'alice-self', data: 'note' });
  await a1.none('direct', 300);
  await a2.close();
  await a3.close();
  // Only the sender is left: peer_not_found.
  let f;
  for (let i = 0; i < 20; i++) {
    f = await a1.request({ type: 'send', to: 'alice-self', data: 1 });
    if (f.type === 'error') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(f.code, 'peer_not_found');
});

test('a publish from one connection reaches the other connection of the same peer', async () => {
  const a1 = await peer('alice-pub');
  const a2 = await peer('alice-pub');
  await subscribe(a1, 'dp-same');
  await subscribe(a2, 'dp-same');
  await expectAck(a1, { type: 'publish', channel: 'dp-same', data: 'x' });
  assert.deepEqual(await a2.next('message'), { type: 'message', channel: 'dp-same', from: 'alice-pub', data: 'x' });
  await a1.none('message', 300);
});

test('direct.fromMetadata is always included when the sender has peerMetadata', async () => {
  const a = await peer('alice-meta', { peerMetadata: META });
  const b = await peer('bob-meta');
  const p = await anon();
  await expectAck(a, { type: 'send', to: 'bob-meta', data: 1 });
  const d = await b.next('direct');
  assert.deepEqual(d, { type: 'direct', from: 'alice-meta', data: 1, fromMetadata: META });
  // A sender without peerMetadata: no fromMetadata member.
  await expectAck(b, { type: 'send', to: 'alice-meta', data: 2 });
  assert.deepEqual(await a.next('direct'), { type: 'direct', from: 'bob-meta', data: 2 });
  await expectAck(p, { type: 'send', to: 'alice-meta', data: 3 });
  assert.deepEqual(await a.next('direct'), { type: 'direct', from: p.peerId, data: 3 });
});

test('includeSenderMetadata: true adds fromMetadata to messages; false or absent does not', async () => {
  const pub = await peer('alice-ism', { peerMetadata: META });
  const withFlag = await anon();
  const withFalse = await anon();
  const without = await anon();
  await subscribe(withFlag, 'dp-ism', { includeSenderMetadata: true });
  await subscribe(withFalse, 'dp-ism', { includeSenderMetadata: false });
  await subscribe(without, 'dp-ism');
  await expectAck(pub, { type: 'publish', channel: 'dp-ism', data: 'm' });
  assert.deepEqual(await withFlag.next('message'), { type: 'message', channel: 'dp-ism', from: 'alice-ism', data: 'm', fromMetadata: META });
  assert.deepEqual(await withFalse.next('message'), { type: 'message', channel: 'dp-ism', from: 'alice-ism', data: 'm' });
  assert.deepEqual(await without.next('message'), { type: 'message', channel: 'dp-ism', from: 'alice-ism', data: 'm' });
  // A publisher without peerMetadata: never fromMetadata.
  const plain = await peer('plain-ism');
  await expectAck(plain, { type: 'publish', channel: 'dp-ism', data: 'p' });
  assert.deepEqual(await withFlag.next('message'), { type: 'message', channel: 'dp-ism', from: 'plain-ism', data: 'p' });
});

test('a repeated subscribe replaces includeSenderMetadata', async () => {
  const pub = await peer('alice-rep', { peerMetadata: { a: 1 } });
  const r = await anon();
  await subscribe(r, 'dp-rep', { includeSenderMetadata: true });
  await expectAck(pub, { type: 'publish', channel: 'dp-rep', data: 1 });
  assert.deepEqual((await r.next('message')).fromMetadata, { a: 1 });
  await subscribe(r, 'dp-rep');
  await expectAck(pub, { type: 'publish', channel: 'dp-rep', data: 2 });
  assert.ok(!('fromMetadata' in (await r.next('message'))));
  await subscribe(r, 'dp-rep', { includeSenderMetadata: true });
  await expectAck(pub, { type: 'publish', channel: 'dp-rep', data: 3 });
  assert.deepEqual((await r.next('message')).fromMetadata, { a: 1 });
  // Same for a pattern subscription.
  const q = await anon();
  await expectAck(q, { type: 'subscribe', channel: 'dp-rep*', includeSenderMetadata: true });
  await expectAck(pub, { type: 'publish', channel: 'dp-rep', data: 4 });
  assert.deepEqual((await q.next('message')).fromMetadata, { a: 1 });
  await expectAck(q, { type: 'subscribe', channel: 'dp-rep*', includeSenderMetadata: false });
  await expectAck(pub, { type: 'publish', channel: 'dp-rep', data: 5 });
  assert.ok(!('fromMetadata' in (await q.next('message'))));
});

test('exact sub without the flag + pattern sub with it: one message, with fromMetadata', async () => {
  const pub = await peer('alice-mix', { peerMetadata: { who: 'alice' } });
  const r = await anon();
  await subscribe(r, 'dp-mix/1');
  await expectAck(r, { type: 'subscribe', channel: 'dp-mix/*', includeSenderMetadata: true });
  await expectAck(r, { type: 'subscribe', channel: '**' });
  const s = await anon();
  await subscribe(s, 'dp-mix/1', { includeSenderMetadata: true });
  await expectAck(s, { type: 'subscribe', channel: 'dp-mix/*' });
  const t = await anon();
  await subscribe(t, 'dp-mix/1');
  await expectAck(t, { type: 'subscribe', channel: 'dp-mix/*' });
  await expectAck(pub, { type: 'publish', channel: 'dp-mix/1', data: 'x' });
  const withMeta = { type: 'message', channel: 'dp-mix/1', from: 'alice-mix', data: 'x', fromMetadata: { who: 'alice' } };
  assert.deepEqual(await r.next('message'), withMeta);
  assert.deepEqual(await s.next('message'), withMeta);
  assert.deepEqual(await t.next('message'), { type: 'message', channel: 'dp-mix/1', from: 'alice-mix', data: 'x' });
  for (const c of [r, s, t]) await c.none('message', 200);
  // A channel only the flagged pattern matches... and one only the unflagged ** matches.
  await expectAck(pub, { type: 'publish', channel: 'dp-mix/2', data: 'y' });
  assert.deepEqual(await r.next('message'), { ...withMeta, channel: 'dp-mix/2', data: 'y' });
  await expectAck(pub, { type: 'publish', channel: 'dp-other', data: 'z' });
  assert.deepEqual(await r.next('message'), { type: 'message', channel: 'dp-other', from: 'alice-mix', data: 'z' });
});

test('a receiver without publish/presence/send still receives messages and directs with fromMetadata', async () => {
  const pub = await peer('alice-na', { peerMetadata: { k: 'v' } });
  const r = await peer('reader-na', { permissions: ['subscribe'] });
  await expectAck(r, { type: 'subscribe', channel: 'dp-na', includeSenderMetadata: true });
  await expectAck(pub, { type: 'publish', channel: 'dp-na', data: 1 });
  assert.deepEqual(await r.next('message'), { type: 'message', channel: 'dp-na', from: 'alice-na', data: 1, fromMetadata: { k: 'v' } });
  await expectAck(pub, { type: 'send', to: 'reader-na', data: 2 });
  assert.deepEqual(await r.next('direct'), { type: 'direct', from: 'alice-na', data: 2, fromMetadata: { k: 'v' } });
  await expectError(r, { type: 'send', to: 'alice-na', data: 3 }, 'action_not_permitted');
});

test('peerIds with quotes, backslashes and other printable ASCII are encoded correctly everywhere', async () => {
  const weird = 'q"uo\\te</script>{}[],:';
  const a = await peer(weird, { peerMetadata: { m: 'x"y\\z' } });
  assert.equal(a.peerId, weird);
  const o = await peer('observer-weird');
  await subscribe(o, 'dp-weird', { includeSenderMetadata: true });
  await subscribe(a, 'dp-weird');
  assert.deepEqual(await o.next('presence'), { type: 'presence', channel: 'dp-weird', joined: [{ peerId: weird, metadata: { m: 'x"y\\z' } }], left: [] });
  await expectAck(a, { type: 'publish', channel: 'dp-weird', data: 1 });
  assert.deepEqual(await o.next('message'), { type: 'message', channel: 'dp-weird', from: weird, data: 1, fromMetadata: { m: 'x"y\\z' } });
  await expectAck(a, { type: 'send', to: 'observer-weird', data: 2 });
  assert.deepEqual(await o.next('direct'), { type: 'direct', from: weird, data: 2, fromMetadata: { m: 'x"y\\z' } });
  await expectAck(o, { type: 'send', to: weird, data: 3 });
  assert.deepEqual(await a.next('direct'), { type: 'direct', from: 'observer-weird', data: 3 });
  await a.close();
  assert.deepEqual(await o.next('presence'), { type: 'presence', channel: 'dp-weird', joined: [], left: [{ peerId: weird }] });
});
