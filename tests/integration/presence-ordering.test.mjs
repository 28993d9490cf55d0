// Ordering of presence relative to other frames (PROTOCOL.md §10 rules 1–3, §6.1 "all four steps
// complete before Parley processes C's next frame"). These are races, so each check is repeated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, subscribe, eventually, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_ordering00000000000000000000000all';
let srv;
const cleanup = [];
async function client() {
  const c = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({ config: configFor([{ id: 'ord', keys: [{ type: 'publishable', id: PK, channels: ['**'], actions: ALL }] }]) });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const ITER = 50;

// The frames B received that concern A (presence entries naming A, messages and directs from A).
function aboutA(b, aId, channel) {
  return b.all.filter((f) =>
    (f.type === 'presence' && f.channel === channel && [...f.joined, ...f.left].some((e) => e.peerId === aId)) ||
    (f.type === 'message' && f.from === aId) ||
    (f.type === 'direct' && f.from === aId));
}
const kind = (f) => (f.type === 'presence' ? (f.joined.length ? 'joined' : 'left') : f.type);

test('A subscribes and publishes without waiting: B gets A\'s joined before the message', async () => {
  const b = await client();
  const channel = 'o-pub';
  await subscribe(b, channel);
  for (let i = 0; i < ITER; i++) {
    const a = await RawClient.open(srv.ws, { key: PK });
    a.send({ type: 'subscribe', channel, requestId: 's' });
    a.send({ type: 'publish', channel, data: i, requestId: 'p' });
    await b.next((f) => f.type === 'message' && f.from === a.peerId, 5000).catch((e) => {
      throw new Error(`iteration ${i}: ${e.message}`);
    });
    assert.deepEqual(aboutA(b, a.peerId, channel).map(kind), ['joined', 'message'], `iteration ${i}`);
    a.ws.terminate();
    await b.next((f) => f.type === 'presence' && f.left.some((e) => e.peerId === a.peerId), 5000);
  }
});

test('A subscribes and sends to B without waiting: B gets A\'s joined before the direct', async () => {
  const b = await client();
  const channel = 'o-send';
  await subscribe(b, channel);
  for (let i = 0; i < ITER; i++) {
    const a = await RawClient.open(srv.ws, { key: PK });
    a.send({ type: 'subscribe', channel, requestId: 's' });
    a.send({ type: 'send', to: b.peerId, data: i, requestId: 'd' });
    await b.next((f) => f.type === 'direct' && f.from === a.peerId, 5000).catch((e) => {
      throw new Error(`iteration ${i}: ${e.message}`);
    });
    assert.deepEqual(aboutA(b, a.peerId, channel).map(kind), ['joined', 'direct'], `iteration ${i}`);
    a.ws.terminate();
    await b.next((f) => f.type === 'presence' && f.left.some((e) => e.peerId === a.peerId), 5000);
  }
});

test('one connection pipelines subscribe, send, publish, unsubscribe 50 times: B sees joined, direct, message, left each time', async () => {
  // The same connection A joins and leaves repeatedly; after each subscribe its send and publish
  // must follow the joined at B, and anything before the unsubscribe must precede the left.
  const b = await client();
  const a = await client();
  const channel = 'o-cycle';
  await subscribe(b, channel);
  for (let i = 0; i < ITER; i++) {
    a.send({ type: 'subscribe', channel, requestId: `s${i}` });
    a.send({ type: 'send', to: b.peerId, data: `d${i}`, requestId: `d${i}` });
    a.send({ type: 'publish', channel, data: `m${i}`, requestId: `m${i}` });
    a.send({ type: 'unsubscribe', channel, requestId: `u${i}` });
  }
  await a.next((f) => f.type === 'ack' && f.requestId === `u${ITER - 1}`, 10000);
  const deadline = Date.now() + 10000;
  while (b.all.filter((x) => x.type === 'presence' && x.left.some((e) => e.peerId === a.peerId)).length < ITER && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const seq = aboutA(b, a.peerId, channel).map((f) => (f.type === 'presence' ? kind(f) : `${f.type}:${f.data}`));
  const expected = [];
  for (let i = 0; i < ITER; i++) expected.push('joined', `direct:d${i}`, `message:m${i}`, 'left');
  assert.deepEqual(seq, expected);
});

test('A publishes then closes without waiting: B gets the message before A\'s left', async () => {
  const b = await client();
  const channel = 'o-close';
  await subscribe(b, channel);
  for (let i = 0; i < ITER; i++) {
    const a = await RawClient.open(srv.ws, { key: PK });
    await subscribe(a, channel);
    a.send({ type: 'publish', channel, data: i });
    a.send({ type: 'send', to: b.peerId, data: i });
    a.ws.close(1000);
    await b.next((f) => f.type === 'presence' && f.left.some((e) => e.peerId === a.peerId), 5000).catch((e) => {
      throw new Error(`iteration ${i}: ${e.message}`);
    });
    assert.deepEqual(aboutA(b, a.peerId, channel).map(kind), ['joined', 'message', 'direct', 'left'], `iteration ${i}`);
  }
});

test('subscriber C: ack, then snapshot, then later presence frames, while others join concurrently', async () => {
  const channel = 'o-snap';
  const joiners = [];
  for (let i = 0; i < 10; i++) joiners.push(await client());
  for (let round = 0; round < 20; round++) {
    const c = await RawClient.open(srv.ws, { key: PK });
    // Joiners toggle their membership while C subscribes.
    for (const j of joiners) j.send({ type: round % 2 === 0 ? 'subscribe' : 'unsubscribe', channel });
    c.send({ type: 'subscribe', channel, requestId: 'cs' });
    const first = await c.next(() => true);
    assert.deepEqual(first, { type: 'ack', requestId: 'cs' }, `round ${round}: the ack comes first`);
    const snap = await c.next(() => true);
    assert.equal(snap.type, 'presence');
    assert.equal(snap.channel, channel);
    // Wait until every joiner has processed its frame, then check C's view.
    for (const j of joiners) {
      j.send({ type: 'ping' });
      await j.next('pong');
    }
    const view = () => {
      const roster = new Set(snap.joined.map((e) => e.peerId));
      for (const f of c.all.slice(c.all.indexOf(snap) + 1)) {
        if (f.type !== 'presence') continue;
        assert.equal(f.joined.length + f.left.length, 1, 'deltas carry one entry');
        for (const e of f.joined) { assert.ok(!roster.has(e.peerId), `round ${round}: duplicate joined`); roster.add(e.peerId); }
        for (const e of f.left) { assert.ok(roster.has(e.peerId), `round ${round}: left for absent peer`); roster.delete(e.peerId); }
      }
      return [...roster].sort();
    };
    const expected = (round % 2 === 0 ? joiners.map((j) => j.peerId) : []).sort();
    await eventually(() => JSON.stringify(view()) === JSON.stringify(expected));
    assert.deepEqual(view(), expected, `round ${round}: snapshot + deltas`);
    c.ws.terminate();
  }
});

test('publishes processed after the subscribe reach C; C never gets its own joined', async () => {
  const pub = await client();
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.open(srv.ws, { key: PK });
    const channel = `o-after-${i}`;
    await subscribe(c, channel);
    await pub.request({ type: 'publish', channel, data: i });
    assert.deepEqual(await c.next('message'), { type: 'message', channel, from: pub.peerId, data: i });
    assert.ok(!c.all.some((f) => f.type === 'presence' && f.joined.some((e) => e.peerId === c.peerId)));
    c.ws.terminate();
  }
});
