// Multi-app isolation (PROTOCOL.md §1.1, §9.1, §9.2, §8): two apps using the same channel names
// and peerIds see nothing of each other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { configFor, expectAck, expectError, subscribe, ALL } from '../lib/proto.mjs';

const A = { pk: 'pk_live_appsA000000000000000000000000000a', sk: 'sk_id_appsA0000000000000000000000000000a', secret: 'sk_secret_appsA00000000000000000000000a' };
const B = { pk: 'pk_live_appsB000000000000000000000000000b', sk: 'sk_id_appsB0000000000000000000000000000b', secret: 'sk_secret_appsB00000000000000000000000b' };
let srv;
const cleanup = [];
async function open(opts) {
  const c = await RawClient.open(srv.ws, opts);
  cleanup.push(c);
  return c;
}
const peer = (app, sub, claims = {}) => open({ token: mintToken({ kid: app.sk, secret: app.secret, claims: { sub, ...claims } }) });
before(async () => {
  srv = await startParleyd({
    config: configFor([
      { id: 'app-a', keys: [{ type: 'publishable', id: A.pk, channels: ['**'], actions: ALL }, { type: 'secret', id: A.sk, secret: A.secret, channels: ['**'] }] },
      { id: 'app-b', keys: [{ type: 'publishable', id: B.pk, channels: ['**'], actions: ALL }, { type: 'secret', id: B.sk, secret: B.secret, channels: ['**'] }] },
    ]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

test('same channel name in two apps: no cross-delivery (exact and pattern subscriptions)', async () => {
  const a1 = await open({ key: A.pk });
  const a2 = await open({ key: A.pk });
  const b1 = await open({ key: B.pk });
  const b2 = await open({ key: B.pk });
  for (const c of [a1, a2, b1, b2]) await subscribe(c, 'room-1');
  const bAll = await open({ key: B.pk });
  await expectAck(bAll, { type: 'subscribe', channel: '**' });
  await expectAck(a1, { type: 'publish', channel: 'room-1', data: 'from-a' });
  assert.deepEqual(await a2.next('message'), { type: 'message', channel: 'room-1', from: a1.peerId, data: 'from-a' });
  await expectAck(b1, { type: 'publish', channel: 'room-1', data: 'from-b' });
  assert.deepEqual(await b2.next('message'), { type: 'message', channel: 'room-1', from: b1.peerId, data: 'from-b' });
  assert.deepEqual(await bAll.next('message'), { type: 'message', channel: 'room-1', from: b1.peerId, data: 'from-b' });
  await bAll.none('message', 300);
  await a2.none('message', 50);
  await b2.none('message', 50);
  assert.ok(!b1.all.some((f) => f.type === 'message'));
  assert.ok(!a1.all.some((f) => f.type === 'message'));
});

test('presence is not shared between apps', async () => {
  const a1 = await open({ key: A.pk });
  const b1 = await open({ key: B.pk });
  await subscribe(a1, 'shared-presence');
  const snapB = await subscribe(b1, 'shared-presence');
  assert.deepEqual(snapB.joined, []);
  await a1.none('presence', 300);
  const a2 = await open({ key: A.pk });
  const snapA = await subscribe(a2, 'shared-presence');
  assert.deepEqual(snapA.joined, [{ peerId: a1.peerId }]);
  assert.deepEqual(await a1.next('presence'), { type: 'presence', channel: 'shared-presence', joined: [{ peerId: a2.peerId }], left: [] });
  await b1.none('presence', 300);
  await a2.close();
  await a1.next('presence');
  await b1.none('presence', 300);
});

test('a send to a peerId of the other app → peer_not_found', async () => {
  const a1 = await open({ key: A.pk });
  const b1 = await open({ key: B.pk });
  await expectError(a1, { type: 'send', to: b1.peerId, data: 1 }, 'peer_not_found');
  await expectError(b1, { type: 'send', to: a1.peerId, data: 1 }, 'peer_not_found');
  await b1.none('direct', 200);
  await a1.none('direct', 50);
});

test('the same peerId in two apps: directs, presence and publishes stay in their app', async () => {
  const aliceA = await peer(A, 'alice', { peerMetadata: { app: 'A' } });
  const aliceB = await peer(B, 'alice', { peerMetadata: { app: 'B' } });
  const bobA = await peer(A, 'bob');
  const bobB = await peer(B, 'bob');
  await expectAck(bobA, { type: 'send', to: 'alice', data: 'hi-A' });
  assert.deepEqual(await aliceA.next('direct'), { type: 'direct', from: 'bob', data: 'hi-A' });
  await aliceB.none('direct', 300);
  // A send from alice in A to bob reaches bob in A only.
  await expectAck(aliceA, { type: 'send', to: 'bob', data: 'x' });
  assert.deepEqual(await bobA.next('direct'), { type: 'direct', from: 'alice', data: 'x', fromMetadata: { app: 'A' } });
  await bobB.none('direct', 300);
  // Presence: alice present in A's channel does not make her present in B's.
  await subscribe(aliceA, 'same');
  const snap = await subscribe(bobB, 'same');
  assert.deepEqual(snap.joined, []);
  await subscribe(aliceB, 'same');
  assert.deepEqual(await bobB.next('presence'), { type: 'presence', channel: 'same', joined: [{ peerId: 'alice', metadata: { app: 'B' } }], left: [] });
  await aliceA.none('presence', 300);
  // alice in A leaving does not produce a left in B.
  await aliceA.close();
  await bobB.none('presence', 300);
  // A self-addressed send in B reaches nobody else: alice has one connection there.
  await expectError(aliceB, { type: 'send', to: 'alice', data: 1 }, 'peer_not_found');
});
