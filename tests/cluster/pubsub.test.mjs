// Publish fan-out across three nodes sharing one Redis (PROTOCOL.md sections 9.1, 9.3, 10, 19):
// exact and wildcard subscriptions on other nodes get each message exactly once, per-publisher
// order holds across nodes, REST publishes cross nodes, apps stay apart, and the Redis side is
// as the engine promises: a node subscribes only to the channels it has local subscribers of
// (and to the patterns its connections hold), and one publish is one PUBLISH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sharedCluster, KEYS, tokenFor, rest, until, sleep,
} from '../lib/cluster.mjs';
import { RawClient } from '../lib/client.mjs';
import { expectAck, subscribe, pingBarrier } from '../lib/proto.mjs';

let cl;
let n0;
let n1;
let n2;
const client = sharedCluster((started) => {
  cl = started;
  [n0, n1, n2] = cl.nodes;
});

async function psub(c, pattern, extra = {}) {
  await expectAck(c, { type: 'subscribe', channel: pattern, ...extra });
}

const isProbe = (f) => f.type === 'message' && f.data !== null && typeof f.data === 'object' && 'probe' in f.data;

// A pattern subscription is live on the other nodes only once its node's Redis PSUBSCRIBE is
// confirmed, which parleyd does not wait for before the ack (the last tests of this file show
// it). Tests about other properties first wait until probes published by `pub` on `probeChannel`
// reach `c`; probes are ignored everywhere else.
async function psubLive(c, pattern, pub, probeChannel, extra = {}) {
  await psub(c, pattern, extra);
  await until(async () => {
    pub.send({ type: 'publish', channel: probeChannel, data: { probe: pattern } });
    await sleep(25);
    return c.frames.some(isProbe);
  }, 5000, `pattern ${pattern} live across nodes`);
  await sleep(100);
  c.frames = c.frames.filter((f) => !isProbe(f));
}

const nextMsg = (c, timeoutMs) => c.next((f) => f.type === 'message' && !isProbe(f), timeoutMs);
const msgCount = (c) => c.frames.filter((f) => f.type === 'message' && !isProbe(f)).length;

// Every `message` frame `c` has received so far (and takes them off the queue), probes excepted.
function takeMessages(c) {
  const out = c.frames.filter((f) => f.type === 'message' && !isProbe(f));
  c.frames = c.frames.filter((f) => f.type !== 'message');
  return out;
}

// Waits until `c` got the marker message published after everything else by the same publisher
// (per-origin order makes it a barrier), then a little longer for any duplicate in flight.
async function waitMarker(c, channel, marker) {
  await until(() => c.frames.some((f) => f.type === 'message' && f.channel === channel && f.data?.marker === marker),
    8000, () => `marker ${marker} on ${channel} at ${c.peerId}; queued: ${JSON.stringify(c.frames).slice(0, 500)}`);
  await sleep(200);
}

const redisChannel = (channel, app = 'app1') => `${cl.prefix}:c:${app}:${channel}`;

test('a publish on node A reaches exact subscribers on B and C exactly once, not the publisher', async () => {
  const pub = await client(n0);
  const sameNode = await client(n0);
  const b = await client(n1);
  const b2 = await client(n1);
  const c = await client(n2);
  for (const s of [sameNode, b, b2, c]) await subscribe(s, 'x-exact');
  await subscribe(pub, 'x-exact');
  // Drain the joined deltas so only messages remain interesting.
  await sleep(300);
  for (const s of [pub, sameNode, b, b2, c]) s.frames = s.frames.filter((f) => f.type !== 'presence');

  for (let i = 0; i < 20; i++) await expectAck(pub, { type: 'publish', channel: 'x-exact', data: { i } });
  await expectAck(pub, { type: 'publish', channel: 'x-exact', data: { marker: 'end' } });
  for (const s of [sameNode, b, b2, c]) {
    await waitMarker(s, 'x-exact', 'end');
    const got = takeMessages(s);
    assert.deepEqual(got.map((f) => f.data.i ?? f.data.marker),
      [...Array.from({ length: 20 }, (_, i) => i), 'end'], `receiver ${s.peerId} on its node`);
    for (const f of got) {
      assert.deepEqual(Object.keys(f).sort(), ['channel', 'data', 'from', 'type']);
      assert.equal(f.from, pub.peerId);
      assert.equal(f.channel, 'x-exact');
    }
  }
  await pub.none((f) => f.type === 'message' && !isProbe(f), 200);
});

test('wildcard subscriptions on other nodes: * and ** each get exactly the names they match, once', async () => {
  const pub = await client(n0);
  const star = await client(n1);       // w/*
  const deep = await client(n2);       // w/**
  const both = await client(n2);       // w/* and w/** and exact w/a on one connection
  const mid = await client(n1);        // w/*/x
  await psubLive(star, 'w/*', pub, 'w/probe');
  await psubLive(deep, 'w/**', pub, 'w/probe');
  await psubLive(both, 'w/*', pub, 'w/probe');
  await psub(both, 'w/**');
  await subscribe(both, 'w/a');
  await psubLive(mid, 'w/*/x', pub, 'w/probe/x');
  await sleep(200);
  for (const c of [star, deep, both, mid]) takeMessages(c);
  const channels = ['w/a', 'w/b/c', 'w/', 'w/q/x', 'wx', 'other'];
  for (const ch of channels) await expectAck(pub, { type: 'publish', channel: ch, data: { ch } });
  // Markers (per-origin order makes them barriers): w/z for w/*, w/q/x for the others.
  await expectAck(pub, { type: 'publish', channel: 'w/z', data: { marker: 'm' } });
  await expectAck(pub, { type: 'publish', channel: 'w/q/x', data: { marker: 'm' } });
  await waitMarker(star, 'w/z', 'm');
  await waitMarker(deep, 'w/q/x', 'm');
  await waitMarker(both, 'w/q/x', 'm');
  await waitMarker(mid, 'w/q/x', 'm');
  const names = (c) => takeMessages(c).filter((f) => f.data.ch).map((f) => f.channel);
  assert.deepEqual(names(star), ['w/a', 'w/'], 'w/* matches one segment only (the Redis glob is wider)');
  assert.deepEqual(names(deep), ['w/a', 'w/b/c', 'w/', 'w/q/x']);
  assert.deepEqual(names(both), ['w/a', 'w/b/c', 'w/', 'w/q/x'], 'one frame per message however many subscriptions match');
  assert.deepEqual(names(mid), ['w/q/x']);
});

test('pattern and exact subscribers of one channel on the same node (other than the publisher\'s) each get it once', async () => {
  const pub = await client(n0);
  const exact = await client(n1);
  const pattern = await client(n1);
  const pattern2 = await client(n1);
  const onBoth = await client(n1);
  await subscribe(exact, 'pe/1');
  await psubLive(pattern, 'pe/*', pub, 'pe/probe');
  await psub(pattern2, 'pe/**');
  await psub(onBoth, 'pe/*');
  await subscribe(onBoth, 'pe/1');
  // Another node with only a pattern subscriber.
  const far = await client(n2);
  await psubLive(far, 'p*/**', pub, 'pe/probe');
  await sleep(200);
  for (const c of [exact, pattern, pattern2, onBoth, far]) takeMessages(c);
  for (let i = 0; i < 10; i++) await expectAck(pub, { type: 'publish', channel: 'pe/1', data: { i } });
  await expectAck(pub, { type: 'publish', channel: 'pe/1', data: { marker: 'z' } });
  for (const c of [exact, pattern, pattern2, onBoth, far]) {
    await waitMarker(c, 'pe/1', 'z');
    assert.deepEqual(takeMessages(c).map((f) => f.data.i ?? f.data.marker), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'z']);
  }
  // Unsubscribing the exact one leaves the patterns delivering, still once.
  await expectAck(exact, { type: 'unsubscribe', channel: 'pe/1' });
  await expectAck(onBoth, { type: 'unsubscribe', channel: 'pe/1' });
  await expectAck(pub, { type: 'publish', channel: 'pe/1', data: { marker: 'after' } });
  for (const c of [pattern, pattern2, onBoth, far]) {
    await waitMarker(c, 'pe/1', 'after');
    assert.deepEqual(takeMessages(c).map((f) => f.data.marker), ['after']);
  }
  await exact.none((f) => f.type === 'message' && !isProbe(f), 200);
});

test('an exact subscription added on a node that already receives the channel through a pattern: still once', async () => {
  const pub = await client(n0);
  const p = await client(n1);
  await psubLive(p, 'ep/**', pub, 'ep/probe');
  await sleep(200);
  takeMessages(p);
  // Interleave publishes with the subscribe of an exact subscriber on the same node.
  const e = await client(n1);
  const pubs = [];
  for (let i = 0; i < 30; i++) pubs.push(expectAck(pub, { type: 'publish', channel: 'ep/1', data: { i } }));
  await subscribe(e, 'ep/1');
  await Promise.all(pubs);
  await expectAck(pub, { type: 'publish', channel: 'ep/1', data: { marker: 'end' } });
  await waitMarker(p, 'ep/1', 'end');
  await waitMarker(e, 'ep/1', 'end');
  const seq = takeMessages(p).map((f) => f.data.i ?? f.data.marker);
  assert.deepEqual(seq, [...Array.from({ length: 30 }, (_, i) => i), 'end'], 'the pattern subscriber gets every message once, in order');
  const eSeq = takeMessages(e).map((f) => f.data.i ?? f.data.marker);
  assert.equal(new Set(eSeq).size, eSeq.length, `no duplicate at the exact subscriber: ${eSeq}`);
  assert.equal(eSeq.at(-1), 'end');
  const nums = eSeq.filter((x) => typeof x === 'number');
  assert.deepEqual(nums, [...nums].sort((x, y) => x - y), 'in publish order');
});

test('per-publisher order across nodes: 200 messages arrive complete and in order on two other nodes', async () => {
  const pub = await client(n0);
  const b = await client(n1);
  const c = await client(n2);
  await subscribe(b, 'order');
  await psubLive(c, 'ord*', pub, 'ord-probe');
  await sleep(200);
  takeMessages(c);
  const N = 200;
  // Sent back to back, without waiting for acks.
  for (let i = 0; i < N; i++) pub.send({ type: 'publish', channel: 'order', data: { i } });
  await pingBarrier(pub);
  for (const [name, r] of [['exact subscriber on node 1', b], ['pattern subscriber on node 2', c]]) {
    await until(() => msgCount(r) >= N, 10000,
      () => `${N} messages at the ${name}; got ${JSON.stringify(r.frames.filter((f) => f.type === 'message' && !isProbe(f)).map((f) => f.data.i))}`);
    await sleep(200);
    const got = takeMessages(r).map((f) => f.data.i);
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i));
  }
});

test('per-origin order across nodes for several publishers and channels at once', async () => {
  const pubs = [await client(n0), await client(n1), await client(n2)];
  const r = await client(n1);
  for (const p of pubs) await psubLive(r, 'multi/**', p, 'multi/probe');
  await sleep(200);
  takeMessages(r);
  const N = 60;
  for (let i = 0; i < N; i++) {
    for (const [k, p] of pubs.entries()) p.send({ type: 'publish', channel: `multi/${k}/${i % 3}`, data: { k, i } });
  }
  await until(() => msgCount(r) >= 3 * N, 10000,
    () => `all messages; got ${JSON.stringify(r.frames.filter((f) => f.type === 'message' && !isProbe(f)).map((f) => [f.data.k, f.data.i]))}`);
  await sleep(200);
  const got = takeMessages(r);
  assert.equal(got.length, 3 * N);
  for (const [k, p] of pubs.entries()) {
    const mine = got.filter((f) => f.from === p.peerId).map((f) => f.data.i);
    assert.deepEqual(mine, Array.from({ length: N }, (_, i) => i), `publisher ${k} (node ${k})`);
    assert.ok(got.filter((f) => f.from === p.peerId).every((f) => f.channel === `multi/${k}/${f.data.i % 3}`));
  }
});

test('data crosses nodes byte for byte; fromMetadata only for receivers that opted in', async () => {
  const pub = await client(n0, { token: tokenFor('meta-pub', { peerMetadata: { name: 'Pub', n: 1 } }) });
  const opted = await client(n1);
  const plain = await client(n2);
  const patOpted = await client(n2);
  await subscribe(opted, 'meta', { includeSenderMetadata: true });
  await subscribe(plain, 'meta');
  await psubLive(patOpted, 'me*', await client(n0), 'me-probe', { includeSenderMetadata: true });
  const dataText = '{ "z" : 1.50e+2 , "a":[ "\\u00e9" , null ,-0 ],"t":"tab\\there" }';
  pub.send(`{"type":"publish","channel":"meta","data":${dataText},"requestId":"raw1"}`);
  assert.deepEqual(await pub.next('ack'), { type: 'ack', requestId: 'raw1' });
  for (const [c, withMeta] of [[opted, true], [plain, false], [patOpted, true]]) {
    const f = await nextMsg(c);
    const raw = c.raw(f);
    assert.ok(raw.includes(`"data":${dataText}`), `data verbatim on another node: ${raw}`);
    if (withMeta) assert.deepEqual(f.fromMetadata, { name: 'Pub', n: 1 });
    else assert.equal('fromMetadata' in f, false, raw);
    assert.equal(f.from, 'meta-pub');
  }
});

test('REST publish on node A reaches subscribers on B and C (and on A)', async () => {
  const a = await client(n0);
  const b = await client(n1);
  const c = await client(n2);
  await subscribe(a, 'rest-ch');
  await subscribe(b, 'rest-ch', { includeSenderMetadata: true });
  await psubLive(c, 'rest-*', await client(n0), 'rest-probe');
  await sleep(300);
  for (const s of [a, b, c]) s.frames = s.frames.filter((f) => f.type !== 'presence');
  const res = await rest(n0).post('/v1/channels/rest-ch/publish', { data: { hello: 'cluster' }, from: 'backend', peerMetadata: { role: 'srv' } });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.channel, 'rest-ch');
  assert.equal(typeof res.json.recipients, 'number');
  assert.ok(res.json.recipients >= 1, `at least the local subscriber counts: ${res.body}`);
  assert.deepEqual(await nextMsg(a), { type: 'message', channel: 'rest-ch', from: 'backend', data: { hello: 'cluster' } });
  assert.deepEqual(await nextMsg(b), { type: 'message', channel: 'rest-ch', from: 'backend', data: { hello: 'cluster' }, fromMetadata: { role: 'srv' } });
  assert.deepEqual(await nextMsg(c), { type: 'message', channel: 'rest-ch', from: 'backend', data: { hello: 'cluster' } });
  // Two REST publishes in sequence (second sent after the first's response) stay in order remotely.
  for (let i = 0; i < 10; i++) {
    const r = await rest(n2).post('/v1/channels/rest-ch/publish', { data: { i } });
    assert.equal(r.status, 200);
  }
  for (const s of [a, b]) {
    await until(() => s.frames.filter((f) => f.type === 'message').length >= 10, 5000, 'REST messages');
    assert.deepEqual(takeMessages(s).map((f) => f.data.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
  await a.none((f) => f.type === 'message' && !isProbe(f), 200);
});

test('apps stay apart across nodes: the same channel name in another app receives nothing', async () => {
  const pub = await client(n0);
  const same = await client(n1);
  const other = await client(n1, { key: KEYS.pk2 });
  const otherPat = await client(n2, { key: KEYS.pk2 });
  await subscribe(same, 'shared-name');
  const snap = await subscribe(other, 'shared-name');
  assert.deepEqual(snap.joined, [], 'presence is per app');
  await psubLive(otherPat, '**', await client(n0, { key: KEYS.pk2 }), 'app2-probe');
  await expectAck(pub, { type: 'publish', channel: 'shared-name', data: 1 });
  assert.equal((await nextMsg(same)).data, 1);
  await other.none((f) => f.type === 'message' && !isProbe(f), 400);
  await otherPat.none((f) => f.type === 'message' && !isProbe(f), 50);
});

test('Redis: a node subscribes only to channels it has local subscribers of, and one publish is one PUBLISH', async () => {
  const ch = 'only-needed';
  const rc = redisChannel(ch);
  const pub = await client(n0);
  assert.equal(await cl.redis.numsub(rc), 0, 'nobody subscribed yet');
  const b = await client(n1);
  const b2 = await client(n1);
  const c = await client(n2);
  await subscribe(b, ch);
  await subscribe(b2, ch);
  await subscribe(c, ch);
  await until(async () => (await cl.redis.numsub(rc)) === 2, 5000, 'two nodes subscribed');
  assert.ok((await cl.redis.pubsubChannels(`${cl.prefix}:c:*`)).includes(rc));
  // Publishing from node 0 does not make node 0 subscribe.
  await expectAck(pub, { type: 'publish', channel: ch, data: 'warm' });
  await nextMsg(b);
  await nextMsg(c);
  await nextMsg(b2);
  assert.equal(await cl.redis.numsub(rc), 2, 'the publishing node has no local subscriber, so no subscription');

  // N publishes from node 0 to a channel two other nodes receive: N PUBLISH commands.
  await sleep(1200); // let heartbeats and counter syncs settle; they do not PUBLISH anyway
  const before = await cl.redis.commandCalls('publish');
  const N = 50;
  for (let i = 0; i < N; i++) pub.send({ type: 'publish', channel: ch, data: { i } });
  await pingBarrier(pub);
  for (const r of [b, b2, c]) await until(() => msgCount(r) >= N, 8000, 'messages');
  const delta = (await cl.redis.commandCalls('publish')) - before;
  assert.equal(delta, N, `one PUBLISH per publish, whatever the number of receiving nodes and connections (got ${delta} for ${N})`);
  for (const r of [b, b2, c]) assert.equal(takeMessages(r).length, N);

  // Nodes unsubscribe when their last local subscriber goes.
  await expectAck(b, { type: 'unsubscribe', channel: ch });
  assert.equal(await cl.redis.numsub(rc), 2, 'node 1 still has a subscriber');
  await b2.close();
  await until(async () => (await cl.redis.numsub(rc)) === 1, 5000, 'node 1 unsubscribed from the channel');
  await expectAck(c, { type: 'unsubscribe', channel: ch });
  await until(async () => (await cl.redis.numsub(rc)) === 0, 5000, 'node 2 unsubscribed from the channel');
  assert.ok(!(await cl.redis.pubsubChannels(`${cl.prefix}:c:*`)).includes(rc));
});

test('Redis: pattern subscriptions are held while some local connection holds the pattern', async () => {
  const patternsNow = async () => Number(await cl.redis.numpat());
  const base = await patternsNow();
  const a = await client(n1);
  const b = await client(n1);
  await psub(a, 'pat-only/*');
  await until(async () => (await patternsNow()) === base + 1, 5000, 'one PSUBSCRIBE');
  await psub(b, 'pat-only/*');
  await sleep(200);
  assert.equal(await patternsNow(), base + 1, 'the same pattern on the same node is one Redis pattern');
  const pub = await client(n0);
  await expectAck(pub, { type: 'publish', channel: 'pat-only/1', data: 1 });
  assert.equal((await nextMsg(a)).channel, 'pat-only/1');
  assert.equal((await nextMsg(b)).channel, 'pat-only/1');
  await expectAck(a, { type: 'unsubscribe', channel: 'pat-only/*' });
  await sleep(200);
  assert.equal(await patternsNow(), base + 1);
  await b.close();
  await until(async () => (await patternsNow()) === base, 5000, 'PUNSUBSCRIBE after the last holder left');
  // No channel subscription was needed for a pattern-only node.
  assert.equal(await cl.redis.numsub(redisChannel('pat-only/1')), 0);
});

// Section 9.1 with section 19: once the ack of a subscription is received, a publish made
// afterwards on any node reaches the subscriber. Each round takes a fresh connection on node 1 or
// 2 and a fresh channel, and publishes on node 0 the moment the ack arrives; 16 lanes of rounds
// run side by side (the load makes a race in the subscribing node show up reliably).
async function subscribeThenPublishRounds(kind, lanes, rounds) {
  const misses = [];
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    const pub = await client(n0);
    for (let i = 0; i < rounds; i++) {
      const srv = i % 2 === 0 ? n1 : n2;
      const c = await RawClient.open(srv.ws, { key: KEYS.pk });
      const channel = `${kind}-race-${lane}-${i}/a`;
      const sub = kind === 'pattern' ? `${kind}-race-${lane}-${i}/*` : channel;
      c.send({ type: 'subscribe', channel: sub, requestId: 'sub' });
      await c.next('ack');
      pub.send({ type: 'publish', channel, data: { i } });
      pub.send({ type: 'publish', channel, data: { i, last: true } });
      const ok = await until(() => c.frames.some((f) => f.type === 'message' && f.data.last), 1500, 'x').then(() => true, () => false);
      const first = c.frames.find((f) => f.type === 'message');
      if (!ok || first.data.last) misses.push({ lane, round: i, node: srv === n1 ? 1 : 2, received: c.frames.filter((f) => f.type === 'message').map((f) => f.data) });
      await c.close();
    }
  }));
  return misses;
}

test('an exact subscription acked on one node receives what another node publishes right after the ack', async () => {
  const misses = await subscribeThenPublishRounds('exact', 16, 30);
  assert.deepEqual(misses, [], `${misses.length} of 480 rounds lost the first publish`);
});

test('a pattern subscription acked on one node receives what another node publishes right after the ack', async () => {
  // parleyd acks a pattern subscribe before its node's PSUBSCRIBE is confirmed by Redis, so a
  // publish made elsewhere in that window never reaches the subscriber.
  const misses = await subscribeThenPublishRounds('pattern', 16, 30);
  assert.deepEqual(misses, [], `${misses.length} of 480 rounds lost the first publish: ${JSON.stringify(misses.slice(0, 5))}`);
});
