// Redis unavailable and back (the cluster issue; PROTOCOL.md sections 11, 18, 19): local delivery
// carries on, a direct that needs another node gets backend_error, /readyz answers 503
// "redis unavailable", the parley_redis_* metrics count it, and when Redis returns (restarted,
// empty) subscriptions, presence and cross-node delivery come back with no manual step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCluster, clusterApps, KEYS, tokenFor, rest, until, sleep, clients, metrics, metric,
  PresenceView, Redis, nodeConfig, uniquePrefix, startCuttableProxy, waitClusterNodes,
} from '../lib/cluster.mjs';
import { startParleyd } from '../lib/parleyd.mjs';
import { request } from '../lib/control.mjs';
import { metricValue } from '../lib/promtext.mjs';
import { expectAck, expectError, subscribe } from '../lib/proto.mjs';

const readyz = async (srv) => {
  const r = await request(srv, 'GET', '/readyz');
  return { status: r.status, json: r.json };
};
const NOT_READY = { status: 503, json: { error: 'not_ready', message: 'redis unavailable' } };
const READY = { status: 200, json: { status: 'ready' } };
const peerIds = async (srv, channel) => (await rest(srv).get(`/v1/channels/${channel}/peers`)).json.peers.map((e) => e.peerId).sort();

test('Redis down: local delivery goes on, cross-node directs get backend_error, /readyz 503, metrics; Redis back: everything resumes by itself', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps() });
  const [n0, n1, n2] = cl.nodes;
  const cs = clients(t);
  for (const n of cl.nodes) {
    assert.deepEqual(await readyz(n), READY);
    const m = await metrics(n);
    assert.equal(m.types.parley_redis_up, 'gauge');
    assert.equal(m.types.parley_cluster_nodes, 'gauge');
    assert.equal(m.types.parley_redis_errors_total, 'counter');
    assert.equal(m.types.parley_redis_reconnects_total, 'counter');
    assert.equal(metricValue(m, 'parley_redis_up'), 1);
    assert.equal(metricValue(m, 'parley_cluster_nodes'), 3);
    assert.equal(metricValue(m, 'parley_redis_reconnects_total'), 0);
  }
  // a0, a1 on node 0; b, b2 on node 1; c and a pattern subscriber on node 2; all in `live`.
  const a0 = await cs.open(n0, { token: tokenFor('a0') });
  const a1 = await cs.open(n0, { token: tokenFor('a1') });
  const b = await cs.open(n1, { token: tokenFor('b') });
  const b2 = await cs.open(n1, { token: tokenFor('b2') });
  const c = await cs.open(n2, { token: tokenFor('c') });
  const p2 = await cs.open(n2, { token: tokenFor('p2') });
  const views = {};
  for (const [name, x] of Object.entries({ a1, b, c })) {
    views[name] = new PresenceView(x, 'live');
    await subscribe(x, 'live');
  }
  await subscribe(b2, 'live');
  await expectAck(p2, { type: 'subscribe', channel: 'li*' });
  await views.a1.waitFor(['b', 'b2', 'c']);
  await views.b.waitFor(['a1', 'b2', 'c']);
  await views.c.waitFor(['a1', 'b', 'b2']);
  await until(async () => (await a0.request({ type: 'send', to: 'b', data: 'warm' })).type === 'ack', 5000, 'b reachable');
  await expectAck(a0, { type: 'publish', channel: 'live', data: 'before' });
  for (const x of [a1, b, c, p2]) assert.equal((await x.next((f) => f.type === 'message' && f.data === 'before')).data, 'before');
  const errorsBefore = await metric(n0, 'parley_redis_errors_total');

  // ---- Redis goes away.
  await cl.redis.stop();
  for (const [i, n] of cl.nodes.entries()) {
    await until(async () => (await readyz(n)).status === 503, 10000, `node ${i} not ready`);
    assert.deepEqual(await readyz(n), NOT_READY);
    assert.equal((await request(n, 'GET', '/healthz')).status, 200, 'healthz stays 200');
    assert.equal(await metric(n, 'parley_redis_up'), 0);
  }
  // Publishes between clients of the same node still flow.
  await expectAck(a0, { type: 'publish', channel: 'live', data: 'during' });
  assert.equal((await a1.next((f) => f.type === 'message')).data, 'during');
  // A direct to a peer of the same node is delivered; one that needs another node cannot be.
  await expectAck(a0, { type: 'send', to: 'a1', data: 'local direct' });
  assert.deepEqual(await a1.next('direct'), { type: 'direct', from: 'a0', data: 'local direct' });
  await expectError(a0, { type: 'send', to: 'b', data: 'remote direct' }, 'backend_error');
  await expectError(b, { type: 'send', to: 'c', data: 'remote direct' }, 'backend_error');
  // Churn while Redis is away: b2 leaves (closes) on node 1, d joins on node 0.
  await b2.close();
  const d = await cs.open(n0, { token: tokenFor('d') });
  await subscribe(d, 'live');
  // Subscriptions keep working locally; new connections are admitted.
  const local = await cs.open(n2, { key: KEYS.pk });
  await subscribe(local, 'local-only');
  assert.ok((await metric(n0, 'parley_redis_errors_total')) > errorsBefore, 'parley_redis_errors_total counts the failures');
  await sleep(500);
  assert.equal(b.all.filter((f) => f.type === 'message' && f.data === 'during').length, 0);

  // ---- Redis returns (a new, empty process on the same port).
  await cl.redis.start();
  for (const [i, n] of cl.nodes.entries()) {
    await until(async () => (await readyz(n)).status === 200, 15000, `node ${i} ready again`);
    assert.deepEqual(await readyz(n), READY);
    assert.equal(await metric(n, 'parley_redis_up'), 1);
    assert.ok((await metric(n, 'parley_redis_reconnects_total')) >= 1);
    await until(async () => (await metric(n, 'parley_cluster_nodes')) === 3, 10000, `node ${i} sees 3 nodes`);
  }
  // A message from node 0 reaches nodes 1 and 2 again (exact and pattern), without any step.
  let k = 0;
  await until(async () => {
    a0.send({ type: 'publish', channel: 'live', data: { probe: ++k } });
    await sleep(50);
    return [b, c, p2].every((x) => x.frames.some((f) => f.type === 'message' && f.data?.probe));
  }, 10000, 'cross-node delivery after Redis returned');
  await expectAck(a0, { type: 'publish', channel: 'live', data: 'after' });
  for (const x of [b, c, p2]) assert.equal((await x.next((f) => f.type === 'message' && f.data === 'after')).data, 'after');
  // Directs across nodes again.
  await until(async () => (await a0.request({ type: 'send', to: 'c', data: 'back' })).type === 'ack', 5000, 'directs again');
  assert.equal((await c.next((f) => f.type === 'direct' && f.data === 'back')).from, 'a0');
  // Presence is consistent again: b2's departure and d's arrival reach every node.
  await views.a1.waitFor(['b', 'c', 'd']);
  await views.b.waitFor(['a1', 'c', 'd']);
  await views.c.waitFor(['a1', 'b', 'd']);
  for (const v of Object.values(views)) assert.deepEqual(v.violations, []);
  for (const n of cl.nodes) assert.deepEqual(await peerIds(n, 'live'), ['a1', 'b', 'c', 'd']);
  const fresh = await cs.open(n1, { key: KEYS.pk });
  assert.deepEqual((await subscribe(fresh, 'live')).joined.map((e) => e.peerId).sort(), ['a1', 'b', 'c', 'd']);
  // Usage counts the whole cluster again.
  await until(async () => (await rest(n2).get('/v1/usage')).json.concurrentNow === 8, 10000, 'usage counts the 8 connections again');
});

test('Redis restarted (empty): peers that stay connected do not leave anyone\'s presence meanwhile', async (t) => {
  // Section 8.3: a left is sent when a peer stops being present. MeteredPeer tears down its call
  // with a peer on that left, so a restart of Redis must not produce left/joined flaps.
  const cl = await startCluster(t, { apps: clusterApps() });
  const cs = clients(t);
  const views = [];
  const everyone = [];
  for (const [i, n] of cl.nodes.entries()) {
    for (let k = 0; k < 4; k++) {
      const id = `s${i}-${k}`;
      everyone.push(id);
      const c = await cs.open(n, { token: tokenFor(id) });
      views.push(new PresenceView(c, 'steady'));
      await subscribe(c, 'steady');
    }
  }
  for (const v of views) await v.waitFor(everyone.filter((x) => x !== v.client.peerId));
  for (let cycle = 0; cycle < 5; cycle++) {
    await cl.redis.stop();
    for (const n of cl.nodes) await until(async () => (await readyz(n)).status === 503, 10000, 'not ready');
    await sleep(300);
    await cl.redis.start();
    for (const n of cl.nodes) await until(async () => (await readyz(n)).status === 200, 15000, 'ready');
    for (const n of cl.nodes) await until(async () => JSON.stringify(await peerIds(n, 'steady')) === JSON.stringify([...everyone].sort()), 10000, 'peer list complete');
    await sleep(500);
    for (const v of views) await v.waitFor(everyone.filter((x) => x !== v.client.peerId));
  }
  for (const v of views) assert.deepEqual(v.violations, []);
  const flaps = views.map((v) => ({
    observer: v.client.peerId,
    left: v.client.all.filter((f) => f.type === 'presence' && f.left.length > 0).map((f) => f.left[0].peerId),
  })).filter((x) => x.left.length > 0);
  assert.deepEqual(flaps, [], `peers that never disconnected were reported as leaving (then joining again): ${JSON.stringify(flaps.slice(0, 4))}`);
});

test('Redis restarted under traffic: delivery resumes by itself, in order, without duplicates', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps() });
  const [n0, n1, n2] = cl.nodes;
  const cs = clients(t);
  const pub = await cs.open(n0, { key: KEYS.pk });
  const exact = await cs.open(n1, { key: KEYS.pk });
  const pattern = await cs.open(n2, { key: KEYS.pk });
  await subscribe(exact, 'stream');
  await expectAck(pattern, { type: 'subscribe', channel: 'str*' });
  await until(async () => {
    pub.send({ type: 'publish', channel: 'stream', data: -1 });
    await sleep(50);
    return pattern.frames.some((f) => f.type === 'message');
  }, 5000, 'pattern live');
  let seq = 0;
  let running = true;
  const errors = [];
  const pump = (async () => {
    while (running) {
      const f = await pub.request({ type: 'publish', channel: 'stream', data: ++seq });
      if (f.type !== 'ack') errors.push(f);
      await sleep(5);
    }
  })();
  await sleep(700);
  const restartAt = seq;
  await cl.redis.stop();
  await sleep(800);
  await cl.redis.start();
  for (const n of cl.nodes) await until(async () => (await readyz(n)).status === 200, 15000, 'ready again');
  const readyAt = seq;
  await sleep(1500);
  running = false;
  await pump;
  const last = seq;
  assert.deepEqual(errors, [], 'publishing never failed for the publisher (local delivery)');
  for (const [name, r] of [['exact subscriber on node 1', exact], ['pattern subscriber on node 2', pattern]]) {
    await until(() => r.frames.some((f) => f.type === 'message' && f.data === last), 10000, () => `${name}: last message ${last}`);
    const got = r.frames.filter((f) => f.type === 'message' && f.data > 0).map((f) => f.data);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `${name}: in order without duplicates at ${i}: ${got[i - 1]} then ${got[i]}`);
    assert.ok(got.filter((x) => x <= restartAt).length >= restartAt - 1, `${name}: everything before the outage arrived`);
    // Once Redis was back and readiness reported, the stream is complete again.
    const tail = Array.from({ length: last - readyAt - 50 }, (_, i) => readyAt + 51 + i);
    assert.deepEqual(got.filter((x) => x > readyAt + 50), tail, `${name}: every message after recovery`);
    t.diagnostic(`${name}: ${got.length} of ${last} messages (lost during the outage: ${last - got.length})`);
  }
});

test('a node started while Redis is down serves local clients and joins the cluster when Redis appears', async (t) => {
  const redis = await Redis.start();
  t.after(() => redis.stop());
  await redis.stop();
  const prefix = uniquePrefix('late');
  const config = (i) => nodeConfig({ apps: clusterApps(), engine: { url: redis.url, prefix, node_id: `n${i}` } });
  const n0 = await startParleyd({ config: config(0) });
  t.after(() => n0.stop());
  assert.deepEqual(await readyz(n0), NOT_READY);
  assert.equal(await metric(n0, 'parley_redis_up'), 0);
  const cs = clients(t);
  const a = await cs.open(n0, { key: KEYS.pk });
  const b = await cs.open(n0, { key: KEYS.pk });
  await subscribe(a, 'x');
  assert.deepEqual((await subscribe(b, 'x')).joined, [{ peerId: a.peerId }]);
  await expectAck(a, { type: 'publish', channel: 'x', data: 1 });
  assert.equal((await b.next('message')).data, 1);
  await redis.start();
  await until(async () => (await readyz(n0)).status === 200, 15000, 'ready once Redis is there');
  const n1 = await startParleyd({ config: config(1) });
  t.after(() => n1.stop());
  await until(async () => (await metric(n1, 'parley_cluster_nodes')) === 2, 10000, 'two nodes');
  const c = await cs.open(n1, { key: KEYS.pk });
  const snap = await subscribe(c, 'x');
  assert.deepEqual(snap.joined.map((e) => e.peerId).sort(), [a.peerId, b.peerId].sort(), 'members that joined before Redis existed are announced');
  await expectAck(a, { type: 'publish', channel: 'x', data: 2 });
  assert.equal((await c.next('message')).data, 2);
});

test('Redis unreachable for a moment but keeping its data (a network cut): departures and arrivals meanwhile reach every node', async (t) => {
  // The nodes reach Redis through a proxy that drops every connection for a second; Redis itself
  // keeps running with its data (as after a network cut, or a Redis restarted with persistence).
  const redis = await Redis.start();
  t.after(() => redis.stop());
  const proxy = await startCuttableProxy(t, redis.port);
  const prefix = uniquePrefix('cut');
  const nodes = [];
  for (let i = 0; i < 3; i++) {
    const n = await startParleyd({ config: nodeConfig({ apps: clusterApps(), engine: { url: proxy.url, prefix, node_id: `node${i}` } }) });
    t.after(() => n.stop());
    nodes.push(n);
  }
  await waitClusterNodes(nodes, 3);
  const cs = clients(t);
  const views = [];
  for (let i = 0; i < 3; i++) {
    const c = await cs.open(nodes[i], { token: tokenFor(`p${i}`) });
    views.push(new PresenceView(c, 'room'));
    await subscribe(c, 'room');
  }
  const leaver = await cs.open(nodes[1], { token: tokenFor('leaver') });
  await subscribe(leaver, 'room');
  for (const [i, v] of views.entries()) await v.waitFor(['p0', 'p1', 'p2', 'leaver'].filter((x) => x !== `p${i}`));

  proxy.cut();
  for (const n of nodes) await until(async () => (await readyz(n)).status === 503, 10000, 'not ready during the cut');
  await leaver.close();
  const arriver = await cs.open(nodes[2], { token: tokenFor('arriver') });
  await subscribe(arriver, 'room');
  await sleep(500);
  proxy.restore();
  for (const n of nodes) await until(async () => (await readyz(n)).status === 200, 15000, 'ready after the cut');

  const want = ['p0', 'p1', 'p2', 'arriver'];
  try {
    for (const [i, v] of views.entries()) await v.waitFor(want.filter((x) => x !== `p${i}`), 10000);
  } catch (e) {
    throw new Error(`${e.message}\nRedis HGETALL ${prefix}:p:app1:room: ${JSON.stringify(await redis.hgetall(`${prefix}:p:app1:room`))}`);
  }
  for (const v of views) assert.deepEqual(v.violations, []);
  for (const n of nodes) assert.deepEqual(await peerIds(n, 'room'), [...want].sort());
  // Nobody was declared dead (the cut was far shorter than node_timeout): no spurious left.
  for (const v of views) {
    const spurious = v.client.all.filter((f) => f.type === 'presence' && f.left.some((e) => /^p\d$/.test(e.peerId)));
    assert.deepEqual(spurious, [], `${v.client.peerId} saw a peer that stayed leave`);
  }
  assert.deepEqual((await rest(nodes[0]).del('/v1/peers/leaver')).json, { peerId: 'leaver', closed: 0 }, 'the departed peer has no connection anywhere');
  // Cross-node delivery resumed.
  const pub = views[0].client;
  await until(async () => {
    pub.send({ type: 'publish', channel: 'room', data: 'again' });
    await sleep(50);
    return views[1].client.frames.some((f) => f.type === 'message' && f.data === 'again');
  }, 10000, 'delivery after the cut');
});
