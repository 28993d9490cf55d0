// Node failures (PROTOCOL.md section 19, section 15): a node killed with SIGKILL stops
// heartbeating, and the surviving nodes remove its connections from presence with normal `left`
// deltas within a bounded time — heartbeat_interval + node_timeout, 30 s at most with the
// defaults. Its directs, peer counts and Redis entries go too. A node stopped with SIGTERM drains
// and its peers leave at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startCluster, clusterApps, KEYS, tokenFor, rest, until, sleep, clients, metric, PresenceView,
} from '../lib/cluster.mjs';
import { expectAck, expectError, subscribe } from '../lib/proto.mjs';

const peerIds = async (srv, channel) => {
  const res = await rest(srv).get(`/v1/channels/${encodeURIComponent(channel)}/peers`);
  assert.equal(res.status, 200, res.body);
  return res.json.peers.map((e) => e.peerId).sort();
};
const left = (channel, peerId) => ({ type: 'presence', channel, joined: [], left: [{ peerId }] });

// Observers on nodes 0 and 1; on node 2: victim-1 in `room`, victim-2 in `room` and `room2`, and
// `twice`, connected on nodes 1 and 2 and subscribed to `room` from both.
async function populate(cl, cs) {
  const [n0, n1, n2] = cl.nodes;
  const obs0 = await cs.open(n0, { token: tokenFor('obs-0') });
  const obs1 = await cs.open(n1, { token: tokenFor('obs-1') });
  const views = { room0: new PresenceView(obs0, 'room'), room2: new PresenceView(obs1, 'room2') };
  await subscribe(obs0, 'room');
  await subscribe(obs1, 'room2');
  const v1 = await cs.open(n2, { token: tokenFor('victim-1') });
  const v2 = await cs.open(n2, { token: tokenFor('victim-2', { peerMetadata: { v: 2 } }) });
  const tw2 = await cs.open(n2, { token: tokenFor('twice') });
  const tw1 = await cs.open(n1, { token: tokenFor('twice') });
  await subscribe(v1, 'room');
  await subscribe(v2, 'room');
  await subscribe(v2, 'room2');
  await subscribe(tw2, 'room');
  await subscribe(tw1, 'room');
  await expectAck(v1, { type: 'subscribe', channel: '**' });
  await views.room0.waitFor(['victim-1', 'victim-2', 'twice']);
  await views.room2.waitFor(['victim-2']);
  // Directs reach victim-1 on node 2 (its direct channel may need a moment after connecting).
  await until(async () => (await obs0.request({ type: 'send', to: 'victim-1', data: 'hi' })).type === 'ack', 5000, 'direct to victim-1');
  return { obs0, obs1, views, victims: [v1, v2, tw2], tw1 };
}

async function assertGone(cl, { obs0, obs1, views }, deadNode) {
  const [n0, n1] = cl.nodes;
  assert.deepEqual(views.room0.ids(), ['twice'], 'twice stays: its connection on node 1 is alive');
  assert.deepEqual(views.room0.violations, []);
  assert.deepEqual(views.room2.ids(), []);
  assert.deepEqual(views.room2.violations, []);
  assert.deepEqual(await peerIds(n1, 'room'), ['obs-0', 'twice']);
  assert.deepEqual(await peerIds(n0, 'room2'), ['obs-1']);
  // Directs: victims are nowhere, twice is still reachable on node 1.
  await expectError(obs0, { type: 'send', to: 'victim-1', data: 1 }, 'peer_not_found');
  await expectError(obs1, { type: 'send', to: 'victim-2', data: 1 }, 'peer_not_found');
  await expectAck(obs0, { type: 'send', to: 'twice', data: 1 });
  // Redis keeps nothing of the dead node.
  const p = cl.prefix;
  const keys = await cl.redis.keys(p);
  assert.ok(!keys.includes(`${p}:n:${deadNode}`), 'heartbeat key expired');
  assert.ok(!keys.includes(`${p}:nc:${deadNode}`) && !keys.includes(`${p}:nk:${deadNode}`), `cleanup lists removed: ${keys}`);
  assert.ok(!keys.includes(`${p}:pp:app1:victim-1`), `victim-1's peer hash removed: ${keys}`);
  assert.deepEqual(await cl.redis.hgetall(`${p}:pp:app1:twice`), { node1: '1' });
  assert.deepEqual((await cl.redis.cli('SMEMBERS', `${p}:nodes`)).split('\n').sort(), ['node0', 'node1']);
  for (const k of keys.filter((x) => x.startsWith(`${p}:p:`))) {
    const members = Object.keys(await cl.redis.hgetall(k));
    assert.ok(members.every((m) => !m.startsWith(`${deadNode}/`)), `${k} still has members of ${deadNode}: ${members}`);
  }
  assert.equal((await cl.redis.hgetall(`${p}:cc:app1`))[deadNode], undefined, 'the dead node\'s connection count is dropped');
  // parley_cluster_nodes is refreshed at each sweep (every heartbeat_interval).
  for (const n of [n0, n1]) await until(async () => (await metric(n, 'parley_cluster_nodes')) === 2, 5000, 'parley_cluster_nodes 2');
}

test('SIGKILL with heartbeat_interval 0.5 / node_timeout 3: the dead node\'s peers leave within the bound', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps(), engine: { heartbeat_interval: 0.5, node_timeout: 3 } });
  const cs = clients(t);
  const st = await populate(cl, cs);
  const usage = async () => (await rest(cl.nodes[0]).get('/v1/usage')).json.concurrentNow;
  await until(async () => (await usage()) === 6, 5000, 'usage counts 6 connections');

  const killedAt = Date.now();
  await cl.kill(2);
  // The bound is heartbeat_interval + node_timeout (3.5 s); allow scheduling slack on top.
  const bound = 10000;
  await st.views.room0.waitFor(['twice'], bound);
  await st.views.room2.waitFor([], bound);
  const took = Date.now() - killedAt;
  assert.ok(took <= bound, `left after ${took} ms`);
  // The left deltas are ordinary ones.
  const lefts = st.obs0.all.filter((f) => f.type === 'presence' && f.left.length > 0);
  assert.deepEqual(lefts.map((f) => f.left[0].peerId).sort(), ['victim-1', 'victim-2']);
  for (const f of lefts) assert.deepEqual(f, left('room', f.left[0].peerId));
  await assertGone(cl, st, 'node2');
  await until(async () => (await usage()) === 3, 5000, 'usage forgets the dead node\'s connections');

  // The node comes back (same node id) and is a full member again.
  const back = await cl.startNode(2);
  const late = await cs.open(back, { token: tokenFor('late') });
  const snap = await subscribe(late, 'room');
  assert.deepEqual(snap.joined.map((e) => e.peerId).sort(), ['obs-0', 'twice']);
  await st.views.room0.waitFor(['late', 'twice']);
  assert.deepEqual(st.obs0.all.filter((f) => f.type === 'presence').at(-1), { type: 'presence', channel: 'room', joined: [{ peerId: 'late' }], left: [] });
  assert.deepEqual(st.views.room0.violations, []);
  await until(async () => (await metric(cl.nodes[0], 'parley_cluster_nodes')) === 3, 5000, 'three nodes again');
});

test('a crashed node restarted at once with the same node_id: its old connections still leave presence', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps(), engine: { heartbeat_interval: 0.5, node_timeout: 3 } });
  const cs = clients(t);
  const st = await populate(cl, cs);
  const killedAt = Date.now();
  await cl.kill(2);
  // A supervisor restarts it immediately, before its heartbeat key expired.
  await cl.startNode(2);
  const bound = 10000;
  try {
    await st.views.room0.waitFor(['twice'], bound);
    await st.views.room2.waitFor([], 1000);
  } catch (e) {
    const hash = await cl.redis.hgetall(`${cl.prefix}:p:app1:room`);
    throw new Error(`${e.message}\nRedis ${cl.prefix}:p:app1:room = ${JSON.stringify(hash)}`);
  }
  assert.ok(Date.now() - killedAt <= bound + 1000);
  assert.deepEqual(await peerIds(cl.nodes[1], 'room'), ['obs-0', 'twice']);
  await expectError(st.obs0, { type: 'send', to: 'victim-1', data: 1 }, 'peer_not_found');
});

test('SIGKILL with the default heartbeat_interval and node_timeout: peers leave within 30 s', async (t) => {
  const cl = await startCluster(t, { nodes: 2, apps: clusterApps() });
  const cs = clients(t);
  const obs = await cs.open(cl.nodes[0], { token: tokenFor('watcher') });
  const view = new PresenceView(obs, 'lobby');
  await subscribe(obs, 'lobby');
  for (let i = 0; i < 3; i++) {
    const v = await cs.open(cl.nodes[1], { token: tokenFor(`gone-${i}`) });
    await subscribe(v, 'lobby');
  }
  await view.waitFor(['gone-0', 'gone-1', 'gone-2']);
  const killedAt = Date.now();
  await cl.kill(1);
  await view.waitFor([], 30000);
  const took = Date.now() - killedAt;
  assert.ok(took <= 30000, `presence cleared after ${took} ms`);
  assert.deepEqual(view.violations, []);
  t.diagnostic(`presence of the killed node cleared after ${took} ms (heartbeat 2 s, timeout 10 s)`);
  assert.deepEqual(await peerIds(cl.nodes[0], 'lobby'), ['watcher']);
});

test('SIGTERM: the node drains (going_away, 1001) and its peers leave at once, not after node_timeout', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps(), engine: { heartbeat_interval: 1, node_timeout: 20 } });
  const cs = clients(t);
  const obs = await cs.open(cl.nodes[0], { token: tokenFor('stays') });
  const view = new PresenceView(obs, 'deploy');
  await subscribe(obs, 'deploy');
  const leaving = [];
  for (let i = 0; i < 3; i++) {
    const c = await cs.open(cl.nodes[2], { token: tokenFor(`drained-${i}`) });
    await subscribe(c, 'deploy');
    leaving.push(c);
  }
  await view.waitFor(['drained-0', 'drained-1', 'drained-2']);
  const stoppedAt = Date.now();
  const exited = cl.kill(2, 'SIGTERM');
  for (const c of leaving) {
    const g = await c.next('going_away');
    assert.equal(typeof g.retryAfterMs, 'number');
    const closed = await c.closedWith(5000);
    assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 1001, reason: 'going_away' });
  }
  await view.waitFor([], 8000);
  const took = Date.now() - stoppedAt;
  assert.ok(took < 8000, `left after ${took} ms; node_timeout is 20 s, so these are the drain's own leaves`);
  assert.deepEqual(view.violations, []);
  await exited;
  assert.deepEqual(await peerIds(cl.nodes[1], 'deploy'), ['stays']);
});
