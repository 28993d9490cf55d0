// Presence across three nodes sharing one Redis (PROTOCOL.md sections 8, 10, 17.3, 19): joins,
// leaves and snapshots, a peer with connections on two nodes, the REST peer list on a node with no
// local member, per-origin order of joined/left against messages and directs, and the section 8.4
// consistency rule under concurrent churn spread over the nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sharedCluster, KEYS, tokenFor, rest, until, sleep, PresenceView,
} from '../lib/cluster.mjs';
import { RawClient } from '../lib/client.mjs';
import { expectAck, subscribe } from '../lib/proto.mjs';

let cl;
let nodes;
const client = sharedCluster((started) => {
  cl = started;
  nodes = cl.nodes;
});
const jwtClient = (srv, sub, peerMetadata) => client(srv, { token: tokenFor(sub, peerMetadata ? { peerMetadata } : {}) });

const joined = (channel, entry) => ({ type: 'presence', channel, joined: [entry], left: [] });
const left = (channel, peerId) => ({ type: 'presence', channel, joined: [], left: [{ peerId }] });
const nextPresence = (c, channel, ms = 5000) => c.next((f) => f.type === 'presence' && f.channel === channel, ms);
const peersOf = async (srv, channel) => {
  const res = await rest(srv).get(`/v1/channels/${encodeURIComponent(channel)}/peers`);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.channel, channel);
  return res.json.peers;
};
// Waits until the presence hash of `channel` in Redis holds `n` members (a join is announced to
// the cluster asynchronously after its ack).
const redisMembers = async (channel) => Object.keys(await cl.redis.hgetall(`${cl.prefix}:p:app1:${channel}`)).length;

test('joins, leaves and snapshots across three nodes, with metadata, in the order peers became present', async () => {
  const ch = 'room-1';
  const a = await jwtClient(nodes[0], 'alice', { name: 'Alice' });
  const b = await jwtClient(nodes[1], 'bob');
  const c = await jwtClient(nodes[2], 'carol', { name: 'Carol', n: [1, 2] });
  assert.deepEqual((await subscribe(a, ch)).joined, []);
  // A join reaches Redis a moment after its ack; the snapshots below are taken after that.
  await until(async () => (await redisMembers(ch)) === 1, 5000, 'alice announced');
  const bSnap = await subscribe(b, ch);
  assert.deepEqual(bSnap.joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }], 'the snapshot on node 1 lists node 0\'s member');
  assert.deepEqual(await nextPresence(a, ch), joined(ch, { peerId: 'bob' }));
  await until(async () => (await redisMembers(ch)) === 2, 5000, 'bob announced');
  const cSnap = await subscribe(c, ch);
  assert.deepEqual(cSnap.joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }, { peerId: 'bob' }]);
  assert.deepEqual(await nextPresence(a, ch), joined(ch, { peerId: 'carol', metadata: { name: 'Carol', n: [1, 2] } }));
  assert.deepEqual(await nextPresence(b, ch), joined(ch, { peerId: 'carol', metadata: { name: 'Carol', n: [1, 2] } }));
  // A repeated subscribe gets a fresh complete snapshot and causes no delta.
  assert.deepEqual((await subscribe(b, ch)).joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }, { peerId: 'carol', metadata: { name: 'Carol', n: [1, 2] } }]);
  // Leave by unsubscribe (node 1) and by close (node 2).
  await expectAck(b, { type: 'unsubscribe', channel: ch });
  assert.deepEqual(await nextPresence(a, ch), left(ch, 'bob'));
  assert.deepEqual(await nextPresence(c, ch), left(ch, 'bob'));
  await c.close();
  assert.deepEqual(await nextPresence(a, ch), left(ch, 'carol'));
  await b.none((f) => f.type === 'presence', 300);
  await a.none((f) => f.type === 'presence', 100);
  // Snapshot after the departures.
  const d = await client(nodes[1]);
  assert.deepEqual((await subscribe(d, ch)).joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }]);
  const want = JSON.stringify([{ peerId: 'alice', metadata: { name: 'Alice' } }, { peerId: d.peerId }]);
  await until(async () => JSON.stringify(await peersOf(nodes[2], ch)) === want, 5000, 'the peer list on a node without members');
});

test('a peer connected on two nodes appears once and leaves only after both connections leave', async () => {
  const ch = 'dual';
  const obs = await client(nodes[2]);
  await subscribe(obs, ch);
  const d1 = await jwtClient(nodes[0], 'dana', { conn: 1 });
  const d2 = await jwtClient(nodes[1], 'dana', { conn: 2 });
  assert.deepEqual((await subscribe(d1, ch)).joined, [{ peerId: obs.peerId }]);
  assert.deepEqual(await nextPresence(obs, ch), joined(ch, { peerId: 'dana', metadata: { conn: 1 } }));
  await until(async () => (await redisMembers(ch)) === 2, 5000, 'dana\'s first member announced');
  // The second connection of dana (another node) sees the observer, but never dana itself.
  assert.deepEqual((await subscribe(d2, ch)).joined, [{ peerId: obs.peerId }]);
  await obs.none((f) => f.type === 'presence', 500);
  await d1.none((f) => f.type === 'presence', 50);
  await until(async () => (await redisMembers(ch)) === 3, 5000, 'dana\'s second member announced');
  // Snapshots and the REST list show dana once, with the earliest connection's metadata.
  const late = await client(nodes[2]);
  assert.deepEqual((await subscribe(late, ch)).joined, [{ peerId: obs.peerId }, { peerId: 'dana', metadata: { conn: 1 } }]);
  // (The other nodes learn of late's join through Redis a moment after its ack.)
  const want = JSON.stringify([{ peerId: obs.peerId }, { peerId: 'dana', metadata: { conn: 1 } }, { peerId: late.peerId }]);
  for (const [i, n] of nodes.entries()) {
    await until(async () => JSON.stringify(await peersOf(n, ch)) === want, 5000, () => `peer list on node ${i}`);
    assert.equal(JSON.stringify(await peersOf(n, ch)), want);
  }
  // First connection leaves: dana is still present (through node 1); no delta anywhere.
  await expectAck(d1, { type: 'unsubscribe', channel: ch });
  d1.frames = []; // after the unsubscribe's ack nothing more may come for the channel (section 10.4)
  await obs.none((f) => f.type === 'presence' && f.left.length > 0, 600);
  await late.none((f) => f.type === 'presence' && f.left.length > 0, 50);
  // Now the metadata is the remaining connection's.
  const late2 = await client(nodes[0]);
  assert.deepEqual((await subscribe(late2, ch)).joined.find((e) => e.peerId === 'dana'), { peerId: 'dana', metadata: { conn: 2 } });
  // Second connection closes: dana leaves everywhere, once.
  await d2.close();
  // Frames caused by different connections may interleave (section 10, rule 5): compare as sets.
  const next = async (c, n) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(JSON.stringify(await nextPresence(c, ch)));
    return out.sort();
  };
  const jl = (...frames) => frames.map((f) => JSON.stringify(f)).sort();
  assert.deepEqual(await next(obs, 3), jl(joined(ch, { peerId: late.peerId }), joined(ch, { peerId: late2.peerId }), left(ch, 'dana')));
  assert.deepEqual(await next(late, 2), jl(joined(ch, { peerId: late2.peerId }), left(ch, 'dana')));
  assert.deepEqual(await next(late2, 1), jl(left(ch, 'dana')));
  await obs.none((f) => f.type === 'presence', 300);
  await d1.none((f) => f.type === 'presence', 50);
  assert.deepEqual((await peersOf(nodes[1], ch)).map((e) => e.peerId), [obs.peerId, late.peerId, late2.peerId]);
});

test('GET /v1/channels/:id/peers on a node with no local member lists the peers of the other nodes', async () => {
  const ch = 'remote-only';
  const a = await jwtClient(nodes[0], 'p-a', { k: 'a' });
  const b = await jwtClient(nodes[1], 'p-b');
  await subscribe(a, ch);
  await subscribe(b, ch);
  await until(async () => (await redisMembers(ch)) === 2, 5000, 'two members in Redis');
  // Node 2 has no member of the channel (and no subscription to it in Redis).
  assert.equal(await cl.redis.numsub(`${cl.prefix}:c:app1:${ch}`), 2);
  assert.deepEqual(await peersOf(nodes[2], ch), [{ peerId: 'p-a', metadata: { k: 'a' } }, { peerId: 'p-b' }]);
  assert.deepEqual(await peersOf(nodes[0], ch), [{ peerId: 'p-a', metadata: { k: 'a' } }, { peerId: 'p-b' }]);
  // A pattern subscriber is not a member anywhere.
  const pat = await client(nodes[2]);
  await expectAck(pat, { type: 'subscribe', channel: 'remote-*' });
  await sleep(300);
  assert.deepEqual((await peersOf(nodes[1], ch)).map((e) => e.peerId), ['p-a', 'p-b']);
  await a.close();
  await until(async () => JSON.stringify(await peersOf(nodes[2], ch)) === JSON.stringify([{ peerId: 'p-b' }]), 5000, 'p-a gone from the list on node 2');
  assert.deepEqual(await peersOf(nodes[2], 'nobody-here'), []);
});

test('per-origin order across nodes: A\'s joined precedes what A sends or publishes next; A\'s messages precede its left', async () => {
  for (let round = 0; round < 15; round++) {
    const ch = `po-${round}`;
    const b = await client(nodes[1 + (round % 2)]);
    await subscribe(b, ch);
    const a = await RawClient.open(nodes[0].ws, { key: KEYS.pk });
    // Subscribe, then immediately (pipelined, no waiting for the ack) a direct and a publish.
    a.send({ type: 'subscribe', channel: ch, requestId: 's' });
    a.send({ type: 'send', to: b.peerId, data: { n: 1 }, requestId: 'd' });
    a.send({ type: 'publish', channel: ch, data: { n: 2 }, requestId: 'p' });
    assert.deepEqual(await a.next((f) => f.requestId === 'd'), { type: 'ack', requestId: 'd' });
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const f = await b.next((x) => x.type !== 'pong', 5000);
      seen.push(f.type === 'presence' ? `joined:${f.joined[0]?.peerId}` : `${f.type}:${f.data.n}`);
    }
    assert.deepEqual(seen, [`joined:${a.peerId}`, 'direct:1', 'message:2'], `round ${round}`);
    // Publish, then close at once: the message precedes the left.
    a.send({ type: 'publish', channel: ch, data: { n: 3 } });
    a.ws.close();
    const f1 = await b.next((x) => x.type === 'message' || x.type === 'presence');
    const f2 = await b.next((x) => x.type === 'message' || x.type === 'presence');
    assert.deepEqual([f1.type, f2.type], ['message', 'presence'], `round ${round}: ${JSON.stringify([f1, f2])}`);
    assert.deepEqual(f2, left(ch, a.peerId));
    await b.close();
  }
});

test('section 8.4 across nodes: concurrent joins and leaves on every node leave every observer with the true set', async () => {
  const ch = 'churn';
  const observers = [await client(nodes[0]), await client(nodes[1]), await client(nodes[2])];
  const views = [];
  for (const o of observers) {
    const v = new PresenceView(o, ch);
    await subscribe(o, ch);
    views.push(v);
  }
  // Drive: 24 peers, some with two connections on different nodes, subscribing, unsubscribing
  // and closing at random, all concurrently.
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const live = new Map(); // connection -> peerId, for connections still subscribed at the end
  const tasks = [];
  for (let p = 0; p < 24; p++) {
    const peer = `churner-${p}`;
    const conns = p % 4 === 0 ? 2 : 1;
    for (let k = 0; k < conns; k++) {
      const srv = nodes[rnd(3)];
      const steps = 1 + rnd(4);
      const endAction = rnd(3); // 0: stay, 1: unsubscribe, 2: close
      tasks.push((async () => {
        const c = await client(srv, { token: tokenFor(peer) });
        for (let s = 0; s < steps; s++) {
          await expectAck(c, { type: 'subscribe', channel: ch });
          if (s < steps - 1) await expectAck(c, { type: 'unsubscribe', channel: ch });
        }
        if (endAction === 1) await expectAck(c, { type: 'unsubscribe', channel: ch });
        else if (endAction === 2) await c.close();
        else live.set(c, peer);
      })());
    }
  }
  await Promise.all(tasks);
  const expected = [...new Set([...live.values(), ...observers.map((o) => o.peerId)])];
  for (const [i, v] of views.entries()) {
    await v.waitFor(expected.filter((id) => id !== observers[i].peerId), 10000);
    assert.deepEqual(v.violations, [], `observer on node ${i}`);
  }
  await sleep(500);
  for (const [i, v] of views.entries()) {
    assert.deepEqual(v.ids(), expected.filter((id) => id !== observers[i].peerId).sort(), `observer on node ${i}, settled`);
    assert.deepEqual(v.violations, []);
  }
  for (const n of nodes) assert.deepEqual((await peersOf(n, ch)).map((e) => e.peerId).sort(), [...expected].sort());
  // A fresh snapshot on each node agrees.
  for (const n of nodes) {
    const f = await client(n);
    const snap = await subscribe(f, ch);
    assert.deepEqual(snap.joined.map((e) => e.peerId).sort(), [...expected].sort());
    await f.close();
    // Its leave reaches the other nodes a moment later.
    for (const m of nodes) await until(async () => !(await peersOf(m, ch)).some((e) => e.peerId === f.peerId), 5000, 'the probe client left');
  }
});
