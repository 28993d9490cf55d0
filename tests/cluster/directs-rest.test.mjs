// Directs, REST kicks and cluster-wide counters across nodes (PROTOCOL.md sections 6.4, 9.2,
// 3.4, 14.2, 17.5, 17.6, 19): a direct reaches the peer's connections on any node and
// peer_not_found means the peer is nowhere; DELETE /v1/peers/:id closes the peer everywhere;
// /v1/usage, the connection cap and the message quota count the whole cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sharedCluster, startCluster, clusterApps, KEYS, ALL_ACTIONS, tokenFor, rest, until, sleep, clients, PresenceView,
} from '../lib/cluster.mjs';
import { restClient } from '../lib/control.mjs';
import { expectAck, expectError, subscribe, expectRefused, pingBarrier } from '../lib/proto.mjs';

const SK2 = { id: 'sk_id_cluster0000000000000000000000000002', secret: 'sk_secret_cluster000000000000000000000002' };
let cl;
let nodes;
const client = sharedCluster((started) => {
  cl = started;
  nodes = cl.nodes;
});
const jwt = (srv, sub, claims) => client(srv, { token: tokenFor(sub, claims) });

// A peer that has just connected to another node may transiently be peer_not_found (section 19):
// wait until a probe direct is accepted, then drop the probes from every receiver.
async function reachable(from, to, receivers = []) {
  await until(async () => (await from.request({ type: 'send', to, data: { probe: true } })).type === 'ack', 5000, `${to} reachable`);
  await sleep(100);
  for (const r of receivers) r.frames = r.frames.filter((f) => !(f.type === 'direct' && f.data?.probe));
}

test('a direct reaches the peer on another node, on every node it is connected to, once each', async () => {
  const alice = await jwt(nodes[0], 'alice', { peerMetadata: { name: 'Alice' } });
  const bob1 = await jwt(nodes[1], 'bob');
  const bob2 = await jwt(nodes[2], 'bob');
  const bob0 = await jwt(nodes[0], 'bob');
  // Every node with a connection of bob listens to bob's direct channel (a node that has just
  // welcomed bob may not yet: section 19 allows that moment).
  await until(async () => (await cl.redis.numsub(`${cl.prefix}:d:app1:bob`)) === 3, 5000, 'three nodes listen for bob');
  const text = '{"type":"rtc-ice", "candidate" : {"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0} ,"n":1e3}';
  alice.send(`{"type":"send","to":"bob","data":${text},"requestId":"d1"}`);
  assert.deepEqual(await alice.next((f) => f.requestId === 'd1'), { type: 'ack', requestId: 'd1' });
  for (const b of [bob0, bob1, bob2]) {
    const f = await b.next('direct');
    assert.ok(b.raw(f).includes(`"data":${text}`), `verbatim: ${b.raw(f)}`);
    assert.deepEqual(f.fromMetadata, { name: 'Alice' }, 'fromMetadata always included when the sender has peerMetadata');
    assert.equal(f.from, 'alice');
    await b.none('direct', 300);
  }
  await alice.none('direct', 50);
});

test('a peer\'s other connections on other nodes receive its own directs; the sender does not', async () => {
  const me0 = await jwt(nodes[0], 'self');
  const me2 = await jwt(nodes[2], 'self');
  await reachable(me0, 'self', [me2]);
  await expectAck(me0, { type: 'send', to: 'self', data: 'to my other tab' });
  assert.deepEqual(await me2.next('direct'), { type: 'direct', from: 'self', data: 'to my other tab' });
  await me0.none('direct', 300);
  await me2.close();
  // Once the other connection is gone everywhere, a self-send has no target.
  await until(async () => (await me0.request({ type: 'send', to: 'self', data: 1 })).code === 'peer_not_found', 5000, 'self-send peer_not_found');
});

test('peer_not_found only when the peer is nowhere: unknown peer, another app\'s peer, a peer that left', async () => {
  const a = await client(nodes[0]);
  await expectError(a, { type: 'send', to: 'nobody-anywhere', data: 1 }, 'peer_not_found');
  const other = await client(nodes[1], { key: KEYS.pk2 });
  await sleep(300);
  await expectError(a, { type: 'send', to: other.peerId, data: 1 }, 'peer_not_found');
  await other.none('direct', 100);
  const c = await jwt(nodes[2], 'leaver');
  await reachable(a, 'leaver', [c]);
  await expectAck(a, { type: 'send', to: 'leaver', data: 1 });
  await c.close();
  await until(async () => (await a.request({ type: 'send', to: 'leaver', data: 1 })).code === 'peer_not_found', 5000, 'peer_not_found after the peer left');
});

test('directs from one sender to a peer on another node arrive in order', async () => {
  const s = await client(nodes[1]);
  const r = await jwt(nodes[2], 'ordered');
  await reachable(s, 'ordered', [r]);
  const N = 200;
  for (let i = 0; i < N; i++) s.send({ type: 'send', to: 'ordered', data: i });
  await pingBarrier(s);
  await until(() => r.frames.filter((f) => f.type === 'direct').length >= N, 10000, `${N} directs`);
  await sleep(200);
  assert.deepEqual(r.frames.filter((f) => f.type === 'direct').map((f) => f.data), Array.from({ length: N }, (_, i) => i));
});

test('DELETE /v1/peers/:id on one node closes the peer\'s connections on every node with 4020', async () => {
  const obs = await client(nodes[0]);
  const view = new PresenceView(obs, 'kick-room');
  await subscribe(obs, 'kick-room');
  const k = [await jwt(nodes[0], 'kicked'), await jwt(nodes[1], 'kicked'), await jwt(nodes[2], 'kicked'), await jwt(nodes[2], 'kicked')];
  for (const c of k) await subscribe(c, 'kick-room');
  const bystander = await jwt(nodes[2], 'bystander');
  await view.waitFor(['kicked']);
  await until(async () => {
    const h = await cl.redis.hgetall(`${cl.prefix}:pp:app1:kicked`);
    return h.node0 === '1' && h.node1 === '1' && h.node2 === '2';
  }, 5000, 'kicked registered on three nodes');
  const res = await rest(nodes[1]).del('/v1/peers/kicked');
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, { peerId: 'kicked', closed: 4 });
  for (const [i, c] of k.entries()) {
    const closed = await c.closedWith(5000);
    assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 4020, reason: 'admin_disconnect' }, `connection ${i}`);
  }
  await view.waitFor([]);
  assert.deepEqual(view.violations, []);
  assert.equal(obs.all.filter((f) => f.type === 'presence' && f.left.some((e) => e.peerId === 'kicked')).length, 1, 'one left for the peer');
  assert.equal(bystander.closed, null);
  // From a node where the peer has no connection.
  const again1 = await jwt(nodes[1], 'kicked-2');
  const again2 = await jwt(nodes[2], 'kicked-2');
  await until(async () => Object.keys(await cl.redis.hgetall(`${cl.prefix}:pp:app1:kicked-2`)).length === 2, 5000, 'registered');
  const res2 = await rest(nodes[0]).del('/v1/peers/kicked-2');
  assert.deepEqual(res2.json, { peerId: 'kicked-2', closed: 2 });
  for (const c of [again1, again2]) assert.equal((await c.closedWith(5000)).code, 4020);
  // Nobody: 200 with closed 0. Not banned: the peer connects again.
  await until(async () => (await rest(nodes[2]).del('/v1/peers/kicked')).json.closed === 0, 5000, 'closed 0 once gone');
  const back = await jwt(nodes[0], 'kicked');
  await sleep(300);
  assert.equal(back.closed, null);
});

test('GET /v1/usage aggregates connections and messages over the nodes', async (t) => {
  const uc = await startCluster(t, { apps: clusterApps() });
  const cs = clients(t);
  const usage = async (i) => (await rest(uc.nodes[i]).get('/v1/usage')).json;
  const conns = [];
  for (const [i, n] of [[0, 2], [1, 1], [2, 3]]) {
    for (let k = 0; k < n; k++) conns.push(await cs.open(uc.nodes[i], { token: tokenFor(`u-${i}-${k}`) }));
  }
  const converge = async (what, pred) => {
    for (let i = 0; i < 3; i++) await until(async () => pred(await usage(i)), 10000, () => `${what} on node ${i}`);
  };
  await converge('concurrentNow 6', (u) => u.concurrentNow === 6);
  for (let i = 0; i < 3; i++) assert.ok((await usage(i)).peakConcurrent >= 6);
  // 5 publishes on node 0; on node 1 a few sends until the peer on node 2 is reachable, 3
  // directs and one send that finds nobody (counted too, section 14.2); 2 REST publishes on node 2.
  for (let k = 0; k < 5; k++) await expectAck(conns[0], { type: 'publish', channel: 'usage', data: k });
  const target = conns[5]; // on node 2
  let warm = 0;
  await until(async () => { warm++; return (await conns[2].request({ type: 'send', to: target.peerId, data: 'warm' })).type === 'ack'; }, 5000, 'reachable');
  for (let k = 0; k < 3; k++) await expectAck(conns[2], { type: 'send', to: target.peerId, data: k });
  await expectError(conns[2], { type: 'send', to: 'nobody', data: 0 }, 'peer_not_found');
  for (let k = 0; k < 2; k++) assert.equal((await rest(uc.nodes[2]).post('/v1/channels/usage/publish', { data: k })).status, 200);
  const expected = 5 + warm + 3 + 1 + 2;
  await converge(`messagesUsed ${expected}`, (u) => u.messagesUsed === expected);
  // Connections closing on one node are seen everywhere.
  for (const c of conns.slice(3)) await c.close();
  await converge('concurrentNow 3', (u) => u.concurrentNow === 3);
});

test('the connection cap counts the cluster: one connection on each of two nodes, a third anywhere gets 4010', async (t) => {
  const apps = [
    {
      id: 'capped',
      settings: { max_concurrent_connections: 2 },
      keys: [{ type: 'publishable', id: KEYS.pk, channels: ['**'], actions: ALL_ACTIONS },
        { type: 'secret', id: KEYS.skId, secret: KEYS.skSecret, channels: ['**'] }],
    },
    {
      id: 'quota',
      settings: { max_messages_per_period: 10 },
      keys: [{ type: 'publishable', id: KEYS.pk2, channels: ['**'], actions: ALL_ACTIONS },
        { type: 'secret', id: SK2.id, secret: SK2.secret, channels: ['**'] }],
    },
  ];
  const cc = await startCluster(t, { apps });
  const cs = clients(t);
  const usage = async (i) => (await rest(cc.nodes[i]).get('/v1/usage')).json;
  const c0 = await cs.open(cc.nodes[0], { key: KEYS.pk });
  const c1 = await cs.open(cc.nodes[1], { key: KEYS.pk });
  // Counters sync every second: wait until every node counts both.
  for (let i = 0; i < 3; i++) await until(async () => (await usage(i)).concurrentNow === 2, 10000, `node ${i} counts 2`);
  for (const i of [2, 0, 1]) await expectRefused(cc.nodes[i].ws, { key: KEYS.pk }, 4010, 'over_connection_limit');
  assert.equal(c0.closed, null, 'established connections are never closed by the cap');
  assert.equal(c1.closed, null);
  // One leaves: a connection is admitted again once the count has reached the other nodes.
  await c1.close();
  await until(async () => (await usage(2)).concurrentNow === 1, 10000, 'node 2 counts 1');
  const c2 = await cs.open(cc.nodes[2], { key: KEYS.pk });
  assert.equal(typeof c2.peerId, 'string');

  // The message quota of the other app is shared too: 6 messages on node 0 and 4 on node 1 use
  // up the 10; once the counts have reached node 2 (usage shows it), node 2 refuses the next one.
  const q0 = await cs.open(cc.nodes[0], { key: KEYS.pk2 });
  const q1 = await cs.open(cc.nodes[1], { key: KEYS.pk2 });
  const q2 = await cs.open(cc.nodes[2], { key: KEYS.pk2 });
  for (let k = 0; k < 6; k++) await expectAck(q0, { type: 'publish', channel: 'q', data: k });
  for (let k = 0; k < 4; k++) await expectAck(q1, { type: 'publish', channel: 'q', data: k });
  const quotaRest = restClient(cc.nodes[2], { id: SK2.id, secret: SK2.secret });
  await until(async () => (await quotaRest.get('/v1/usage')).json.messagesUsed === 10, 10000, 'node 2 counts 10 messages');
  await expectError(q2, { type: 'publish', channel: 'q', data: 'over' }, 'over_message_quota');
  const r = await quotaRest.post('/v1/channels/q/publish', { data: 'over' });
  assert.equal(r.status, 429, r.body);
  assert.equal(r.json.error, 'over_message_quota');
});
