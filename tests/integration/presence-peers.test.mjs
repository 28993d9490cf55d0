// Presence of peers with several connections and with peerMetadata (PROTOCOL.md §3.3, §8.1–§8.3),
// using HS256 connection tokens minted in the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { configFor, expectAck, subscribe, pingBarrier, drain, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_peers0000000000000000000000000all';
const SK_ID = 'sk_id_peers00000000000000000000000000001';
const SK = 'sk_secret_peers0000000000000000000000001';
let srv;
const cleanup = [];
const token = (claims) => mintToken({ kid: SK_ID, secret: SK, claims });
async function peer(sub, extra = {}) {
  const c = await RawClient.open(srv.ws, { token: token({ sub, ...extra }) });
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
      id: 'peers',
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

const joined = (channel, entry) => ({ type: 'presence', channel, joined: [entry], left: [] });
const left = (channel, peerId) => ({ type: 'presence', channel, joined: [], left: [{ peerId }] });

test('a token connection is welcomed with peerId = sub', async () => {
  const c = await peer('alice-w');
  assert.equal(c.peerId, 'alice-w');
  const c2 = await peer('alice-w');
  assert.equal(c2.peerId, 'alice-w');
});

test('several connections of one peer: joined once, left only after the last connection leaves', async () => {
  const ch = 'pp-multi';
  const o = await anon();
  await subscribe(o, ch);
  const a1 = await peer('alice');
  const a2 = await RawClient.open(srv.ws, { token: token({ sub: 'alice' }) });
  const a3 = await RawClient.open(srv.ws, { token: token({ sub: 'alice' }) });
  cleanup.push(a2, a3);
  assert.deepEqual((await subscribe(a1, ch)).joined, [{ peerId: o.peerId }]);
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'alice' }));
  // a2, a3 join: no delta for anybody; their snapshots never list alice.
  assert.deepEqual((await subscribe(a2, ch)).joined, [{ peerId: o.peerId }]);
  assert.deepEqual((await subscribe(a3, ch)).joined, [{ peerId: o.peerId }]);
  await o.none('presence', 300);
  await a1.none('presence', 50);
  // A newcomer sees alice once.
  const n = await anon();
  const snap = await subscribe(n, ch);
  assert.deepEqual(snap.joined.map((e) => e.peerId).sort(), [o.peerId, 'alice'].sort());
  for (const c of [o, a1, a2, a3]) assert.deepEqual(await c.next('presence'), joined(ch, { peerId: n.peerId }));
  // Leaving one by one: left only after the last.
  await expectAck(a1, { type: 'unsubscribe', channel: ch });
  await a3.close();
  await o.none('presence', 300);
  await n.none('presence', 50);
  await a2.close();
  assert.deepEqual(await o.next(() => true), left(ch, 'alice'));
  assert.deepEqual(await n.next(() => true), left(ch, 'alice'));
  // a1 is still open but not a member: it sees nothing about alice.
  await a1.none('presence', 200);
});

test('a connection of the same peer never receives a delta about its own peerId', async () => {
  const ch = 'pp-self';
  const b1 = await peer('bob');
  const b2 = await peer('bob');
  await subscribe(b1, ch);
  await subscribe(b2, ch);
  await expectAck(b2, { type: 'unsubscribe', channel: ch });
  await subscribe(b2, ch);
  await b2.close();
  await pingBarrier(b1);
  await b1.none('presence', 300);
  assert.ok(!b1.all.some((f) => f.type === 'presence' && [...f.joined, ...f.left].some((e) => e.peerId === 'bob')));
});

test('peerMetadata appears in joined entries (snapshot and delta), never in left entries', async () => {
  const ch = 'pp-meta';
  const o = await anon();
  await subscribe(o, ch);
  const meta = { name: 'Carol', tags: ['x', 1, null], nested: { deep: true } };
  const c = await peer('carol', { peerMetadata: meta });
  assert.deepEqual((await subscribe(c, ch)).joined, [{ peerId: o.peerId }], 'publishable peers have no metadata member');
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'carol', metadata: meta }));
  const n = await anon();
  const snap = await subscribe(n, ch);
  const entry = snap.joined.find((e) => e.peerId === 'carol');
  assert.deepEqual(entry, { peerId: 'carol', metadata: meta });
  await o.next('presence');
  await c.close();
  const l = await o.next('presence');
  assert.deepEqual(l, left(ch, 'carol'));
  assert.deepEqual(Object.keys(l.left[0]), ['peerId']);
});

test('peerMetadata null or absent: no metadata member', async () => {
  const ch = 'pp-nometa';
  const o = await anon();
  await subscribe(o, ch);
  const d = await peer('dave', { peerMetadata: null });
  await subscribe(d, ch);
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'dave' }));
  const e = await peer('erin');
  await subscribe(e, ch);
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'erin' }));
  const f = await peer('frank', { peerMetadata: {} });
  await subscribe(f, ch);
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'frank', metadata: {} }));
});

test('presence metadata is that of the earliest-subscribed connection still a member', async () => {
  const ch = 'pp-earliest';
  const g1 = await peer('gina', { peerMetadata: { conn: 1 } });
  const g2 = await peer('gina', { peerMetadata: { conn: 2 } });
  const g3 = await peer('gina');
  // Subscribe in the order g2, g1, g3.
  await subscribe(g2, ch);
  await subscribe(g1, ch);
  await subscribe(g3, ch);
  const snapOf = async () => {
    const n = await RawClient.open(srv.ws, { key: PK });
    const s = await subscribe(n, ch);
    n.ws.terminate();
    return s.joined.filter((e) => e.peerId === 'gina');
  };
  assert.deepEqual(await snapOf(), [{ peerId: 'gina', metadata: { conn: 2 } }]);
  await expectAck(g2, { type: 'unsubscribe', channel: ch });
  assert.deepEqual(await snapOf(), [{ peerId: 'gina', metadata: { conn: 1 } }]);
  await g1.close();
  assert.deepEqual(await snapOf(), [{ peerId: 'gina' }]);
  // g2 re-subscribes: it is now the latest, g3 stays the earliest.
  drain(g2);
  await subscribe(g2, ch);
  assert.deepEqual(await snapOf(), [{ peerId: 'gina' }]);
});

test('a dropped TCP connection (no close frame) also produces left', async () => {
  const ch = 'pp-drop';
  const o = await anon();
  await subscribe(o, ch);
  const h = await RawClient.open(srv.ws, { token: token({ sub: 'henry' }) });
  await subscribe(h, ch);
  assert.deepEqual(await o.next(() => true), joined(ch, { peerId: 'henry' }));
  h.ws.terminate();
  assert.deepEqual(await o.next(() => true, 5000), left(ch, 'henry'));
});
