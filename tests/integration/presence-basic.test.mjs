// Presence with publishable keys (PROTOCOL.md §6.1 effects, §8): snapshot after the ack, deltas,
// left on unsubscribe/close, members without the presence action, pattern subscriptions, and the
// §8.4 consistency rule under concurrent churn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectAck, subscribe, pingBarrier, eventually, ALL } from '../lib/proto.mjs';

const K = {
  all: 'pk_live_presence000000000000000000000000all',
  noPresence: 'pk_live_presence00000000000000000000nopres',
};
let srv;
const cleanup = [];
async function client(key = K.all) {
  const c = await RawClient.open(srv.ws, { key });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'pres',
      keys: [
        { type: 'publishable', id: K.all, channels: ['**'], actions: ALL },
        { type: 'publishable', id: K.noPresence, channels: ['**'], actions: ['subscribe', 'publish', 'send'] },
      ],
    }]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const joined = (channel, peerId) => ({ type: 'presence', channel, joined: [{ peerId }], left: [] });
const left = (channel, peerId) => ({ type: 'presence', channel, joined: [], left: [{ peerId }] });

test('the snapshot follows the ack immediately; an empty snapshot is joined:[] left:[]', async () => {
  const c = await client();
  c.send({ type: 'subscribe', channel: 'p-empty', requestId: 's1' });
  const f1 = await c.next(() => true);
  const f2 = await c.next(() => true);
  assert.deepEqual(f1, { type: 'ack', requestId: 's1' });
  assert.deepEqual(f2, { type: 'presence', channel: 'p-empty', joined: [], left: [] });
  assert.equal(c.raw(f2).length, JSON.stringify(f2).length, 'compact JSON');
  // Without requestId: no ack, still the snapshot.
  c.send({ type: 'subscribe', channel: 'p-empty2' });
  assert.deepEqual(await c.next(() => true), { type: 'presence', channel: 'p-empty2', joined: [], left: [] });
  await pingBarrier(c);
});

test('joined delta to existing members; newcomer snapshot lists present peers in order', async () => {
  const a = await client();
  const b = await client();
  const c = await client();
  assert.deepEqual((await subscribe(a, 'p-join')).joined, []);
  assert.deepEqual((await subscribe(b, 'p-join')).joined, [{ peerId: a.peerId }]);
  assert.deepEqual(await a.next(() => true), joined('p-join', b.peerId));
  const snapC = await subscribe(c, 'p-join');
  assert.deepEqual(snapC.joined, [{ peerId: a.peerId }, { peerId: b.peerId }], 'SHOULD be in the order peers became present');
  assert.deepEqual(await a.next(() => true), joined('p-join', c.peerId));
  assert.deepEqual(await b.next(() => true), joined('p-join', c.peerId));
  await a.none('presence', 300);
  await b.none('presence', 50);
  await c.none('presence', 50);
});

test('left delta on unsubscribe and on close; a closing connection leaves all its channels', async () => {
  const a = await client();
  const b = await RawClient.open(srv.ws, { key: K.all });
  await subscribe(a, 'p-left1');
  await subscribe(a, 'p-left2');
  await subscribe(b, 'p-left1');
  await subscribe(b, 'p-left2');
  await subscribe(b, 'p-left3');
  assert.deepEqual(await a.next(() => true), joined('p-left1', b.peerId));
  assert.deepEqual(await a.next(() => true), joined('p-left2', b.peerId));
  await expectAck(b, { type: 'unsubscribe', channel: 'p-left1' });
  assert.deepEqual(await a.next(() => true), left('p-left1', b.peerId));
  // A second unsubscribe changes nothing.
  await expectAck(b, { type: 'unsubscribe', channel: 'p-left1' });
  await a.none('presence', 200);
  // Re-joining produces a new joined.
  await subscribe(b, 'p-left1');
  assert.deepEqual(await a.next(() => true), joined('p-left1', b.peerId));
  await b.close();
  const got = [await a.next('presence'), await a.next('presence')];
  got.sort((x, y) => x.channel.localeCompare(y.channel));
  assert.deepEqual(got, [left('p-left1', b.peerId), left('p-left2', b.peerId)]);
  await a.none('presence', 300);
});

test('a member without the presence action gets no presence frames but is present for others', async () => {
  const a = await client();
  const np = await client(K.noPresence);
  await subscribe(a, 'p-np');
  // np: ack, no snapshot.
  np.send({ type: 'subscribe', channel: 'p-np', requestId: 'np1' });
  assert.deepEqual(await np.next(() => true), { type: 'ack', requestId: 'np1' });
  await pingBarrier(np);
  // a sees np join.
  assert.deepEqual(await a.next(() => true), joined('p-np', np.peerId));
  // A newcomer sees both; np gets no delta about it.
  const c = await client();
  const snap = await subscribe(c, 'p-np');
  assert.deepEqual(new Set(snap.joined.map((e) => e.peerId)), new Set([a.peerId, np.peerId]));
  assert.deepEqual(await a.next(() => true), joined('p-np', c.peerId));
  await np.none('presence', 300);
  // A repeated subscribe still sends no snapshot.
  np.send({ type: 'subscribe', channel: 'p-np', requestId: 'np2' });
  assert.deepEqual(await np.next(() => true), { type: 'ack', requestId: 'np2' });
  await pingBarrier(np);
  // c leaving: no delta to np; np leaving: delta to a and c.
  await expectAck(c, { type: 'unsubscribe', channel: 'p-np' });
  assert.deepEqual(await a.next(() => true), left('p-np', c.peerId));
  await expectAck(np, { type: 'unsubscribe', channel: 'p-np' });
  assert.deepEqual(await a.next(() => true), left('p-np', np.peerId));
  await np.none('presence', 300);
});

test('pattern subscriptions get no presence frames and confer no membership', async () => {
  const a = await client();
  await subscribe(a, 'p-pat/1');
  const p = await client();
  p.send({ type: 'subscribe', channel: 'p-pat/*', requestId: 'pp' });
  assert.deepEqual(await p.next(() => true), { type: 'ack', requestId: 'pp' });
  await expectAck(p, { type: 'subscribe', channel: '**' });
  await pingBarrier(p);
  await a.none('presence', 300); // no joined for p
  const b = await client();
  const snap = await subscribe(b, 'p-pat/1');
  assert.deepEqual(snap.joined, [{ peerId: a.peerId }], 'p must not be present');
  assert.deepEqual(await a.next(() => true), joined('p-pat/1', b.peerId));
  await p.none('presence', 300); // no deltas through the pattern
  await expectAck(p, { type: 'unsubscribe', channel: 'p-pat/*' });
  await a.none('presence', 300); // no left for p
  // p does receive messages through its pattern.
  await expectAck(b, { type: 'publish', channel: 'p-pat/1', data: 1 });
  assert.deepEqual(await p.next('message'), { type: 'message', channel: 'p-pat/1', from: b.peerId, data: 1 });
});

test('an exact subscription next to a pattern one: membership only through the exact one', async () => {
  const a = await client();
  const b = await client();
  await subscribe(a, 'p-mix/1');
  await expectAck(b, { type: 'subscribe', channel: 'p-mix/*' });
  await subscribe(b, 'p-mix/1');
  assert.deepEqual(await a.next(() => true), joined('p-mix/1', b.peerId));
  await expectAck(b, { type: 'unsubscribe', channel: 'p-mix/*' });
  await a.none('presence', 300);
  await expectAck(b, { type: 'unsubscribe', channel: 'p-mix/1' });
  assert.deepEqual(await a.next(() => true), left('p-mix/1', b.peerId));
});

test('presence is per channel: deltas only for the channel concerned', async () => {
  const a = await client();
  const b = await client();
  await subscribe(a, 'p-ch1');
  await subscribe(b, 'p-ch2');
  await a.none('presence', 300);
  await subscribe(b, 'p-ch1');
  assert.deepEqual(await a.next(() => true), joined('p-ch1', b.peerId));
});

test('§8.4 consistency: snapshot plus deltas equals the present set, under concurrent churn', async () => {
  const channel = 'p-churn';
  const observers = [];
  for (let i = 0; i < 3; i++) observers.push(await client());
  const actors = [];
  for (let i = 0; i < 8; i++) actors.push(await RawClient.open(srv.ws, { key: K.all }));
  cleanup.push(...actors);
  // Observers subscribe while actors churn.
  const churn = actors.map(async (c, i) => {
    for (let r = 0; r < 6; r++) {
      const second = (r + i) % 2 === 0 ? { type: 'unsubscribe', requestId: `u${r}` } : { type: 'subscribe', requestId: `c${r}b` };
      c.send({ type: 'subscribe', channel, requestId: `c${r}` });
      c.send({ ...second, channel });
      await c.next((f) => f.type === 'ack' && f.requestId === second.requestId);
    }
  });
  const obsSubs = observers.map((o, i) => new Promise((resolve) => setTimeout(resolve, 5 * i)).then(() => o.request({ type: 'subscribe', channel })));
  await Promise.all([...churn, ...obsSubs]);
  // Settle: every actor ends in a defined state.
  const finalPresent = new Set();
  for (const [i, c] of actors.entries()) {
    if (i % 3 === 0) {
      await c.close();
    } else if (i % 3 === 1) {
      await expectAck(c, { type: 'subscribe', channel });
      finalPresent.add(c.peerId);
    } else {
      await expectAck(c, { type: 'unsubscribe', channel });
    }
  }
  for (const o of observers) finalPresent.add(o.peerId);
  // The view an observer builds from its snapshot and deltas (throws on an inconsistent sequence).
  const view = (o) => {
    const frames = o.all.filter((f) => f.type === 'presence' && f.channel === channel);
    const ackIdx = o.all.findIndex((f) => f.type === 'ack');
    const firstPresence = o.all.findIndex((f) => f.type === 'presence' && f.channel === channel);
    assert.ok(firstPresence > ackIdx, 'no presence frame for X before the subscribe ack');
    const roster = new Set();
    const [snap, ...deltas] = frames;
    assert.deepEqual(snap.left, []);
    for (const e of snap.joined) {
      assert.ok(!roster.has(e.peerId), 'snapshot lists each peer once');
      roster.add(e.peerId);
    }
    for (const d of deltas) {
      assert.equal(d.joined.length + d.left.length, 1, `delta carries exactly one entry: ${JSON.stringify(d)}`);
      for (const e of d.joined) {
        assert.ok(!roster.has(e.peerId), `joined for a peer already present: ${e.peerId}`);
        roster.add(e.peerId);
      }
      for (const e of d.left) {
        assert.ok(roster.has(e.peerId), `left for a peer not present: ${e.peerId}`);
        roster.delete(e.peerId);
      }
    }
    return [...roster].sort();
  };
  const expectedFor = (o) => [...finalPresent].filter((id) => id !== o.peerId).sort();
  // Deltas still in flight: wait until the views settle (or time out), then compare.
  await eventually(() => observers.every((o) => JSON.stringify(view(o)) === JSON.stringify(expectedFor(o))));
  for (const o of observers) {
    assert.deepEqual(view(o), expectedFor(o), 'snapshot + deltas = present peers except self');
  }
});
