// The official @metered-ca/realtime SignallingClient against a cluster (PROTOCOL.md sections 0 and
// 19): clients connected to different nodes exchange messages, directs and presence; behind a
// plain round-robin TCP balancer (no stickiness), a client whose node is killed reconnects to
// another node by itself and stays present for its peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignallingClient } from '@metered-ca/realtime';
import {
  startCluster, clusterApps, tokenFor, rest, until, sleep, startBalancer,
} from '../lib/cluster.mjs';
import { waitEvent } from '../lib/control.mjs';

function sdkClient(t, url, peerId, peerMetadata) {
  const c = new SignallingClient({
    url,
    tokenProvider: async () => tokenFor(peerId, peerMetadata ? { peerMetadata } : {}),
    webSocketFactory: (u) => new WebSocket(u),
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
  });
  t.after(() => c.close());
  return c;
}

// The set of peers a client believes present in `channel`, from its presence events.
function presenceSet(client, channel) {
  const set = new Set();
  const log = [];
  client.on('presence', (p) => {
    if (p.channel !== channel) return;
    log.push(p);
    for (const e of p.joined) set.add(e.peerId);
    for (const e of p.left) set.delete(e.peerId);
  });
  return { set, log };
}

const connect = async (c) => {
  const connected = waitEvent(c, 'connected');
  await c.connect();
  return connected;
};

test('official clients on three nodes: presence, messages, directs, peer_not_found', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps() });
  const alice = sdkClient(t, cl.nodes[0].ws.replace('127.0.0.1', 'localhost'), 'alice', { name: 'Alice' });
  const bob = sdkClient(t, cl.nodes[1].ws.replace('127.0.0.1', 'localhost'), 'bob');
  const carol = sdkClient(t, cl.nodes[2].ws.replace('127.0.0.1', 'localhost'), 'carol', { name: 'Carol' });
  for (const c of [alice, bob, carol]) assert.equal((await connect(c)).isReconnect, false);

  const aSnap = waitEvent(alice, 'presence', (p) => p.channel === 'lobby');
  await alice.subscribe('lobby');
  assert.deepEqual(await aSnap, { channel: 'lobby', joined: [], left: [] });
  // A join reaches Redis a moment after its ack; the snapshots below are taken after that.
  const members = async () => Object.keys(await cl.redis.hgetall(`${cl.prefix}:p:app1:lobby`)).length;
  await until(async () => (await members()) === 1, 5000, 'alice announced');
  const aliceSeesBob = waitEvent(alice, 'presence', (p) => p.joined.some((e) => e.peerId === 'bob'));
  const bSnap = waitEvent(bob, 'presence', (p) => p.channel === 'lobby');
  await bob.subscribe('lobby');
  assert.deepEqual((await bSnap).joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }]);
  await aliceSeesBob;
  await until(async () => (await members()) === 2, 5000, 'bob announced');
  const cSnap = waitEvent(carol, 'presence', (p) => p.channel === 'lobby');
  const bobSeesCarol = waitEvent(bob, 'presence', (p) => p.joined.some((e) => e.peerId === 'carol'));
  await carol.subscribe('lobby', { includeSenderMetadata: true });
  assert.deepEqual((await cSnap).joined, [{ peerId: 'alice', metadata: { name: 'Alice' } }, { peerId: 'bob' }]);
  assert.deepEqual((await bobSeesCarol).joined, [{ peerId: 'carol', metadata: { name: 'Carol' } }]);

  // A publish on node 0 reaches nodes 1 and 2.
  const bGot = waitEvent(bob, 'message');
  const cGot = waitEvent(carol, 'message');
  await alice.publish('lobby', { text: 'hello cluster', n: [1, 2] });
  assert.deepEqual(await bGot, { channel: 'lobby', from: 'alice', data: { text: 'hello cluster', n: [1, 2] } });
  assert.deepEqual(await cGot, { channel: 'lobby', from: 'alice', data: { text: 'hello cluster', n: [1, 2] }, fromMetadata: { name: 'Alice' } });

  // Directs between nodes, in both directions.
  const aDirect = waitEvent(alice, 'direct');
  await bob.send('alice', { type: 'rtc-ice', candidate: null });
  assert.deepEqual(await aDirect, { from: 'bob', data: { type: 'rtc-ice', candidate: null } });
  const cDirect = waitEvent(carol, 'direct');
  await alice.send('carol', { type: 'rtc-description', description: { type: 'offer', sdp: 'v=0\r\n' } });
  assert.deepEqual(await cDirect, { from: 'alice', data: { type: 'rtc-description', description: { type: 'offer', sdp: 'v=0\r\n' } }, fromMetadata: { name: 'Alice' } });
  await assert.rejects(carol.send('nobody-anywhere', 1), (e) => e.name === 'peer_not_found');

  // Leaving on node 1 is seen on nodes 0 and 2.
  const aLeft = waitEvent(alice, 'presence', (p) => p.left.some((e) => e.peerId === 'bob'));
  const cLeft = waitEvent(carol, 'presence', (p) => p.left.some((e) => e.peerId === 'bob'));
  await bob.unsubscribe('lobby');
  await aLeft;
  await cLeft;
});

test('behind a round-robin balancer: a client whose node is killed reconnects elsewhere and stays present', async (t) => {
  const cl = await startCluster(t, { apps: clusterApps(), engine: { heartbeat_interval: 0.5, node_timeout: 3 } });
  const alive = () => cl.nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  const lb = await startBalancer(t, () => alive().map((n) => ({ host: n.host, port: n.port })));
  const url = lb.ws.replace('127.0.0.1', 'localhost');
  const x = sdkClient(t, url, 'xavier');
  const y = sdkClient(t, url, 'yara');
  const z = sdkClient(t, url, 'zoe');
  for (const c of [x, y, z]) await connect(c);
  const yView = presenceSet(y, 'call');
  const zView = presenceSet(z, 'call');
  await x.subscribe('call');
  await y.subscribe('call');
  await z.subscribe('call');
  await until(() => yView.set.has('xavier') && yView.set.has('zoe') && zView.set.has('xavier'), 10000, 'everyone present');

  // The balancer spread them over the nodes; find xavier's node (Redis knows) and kill it.
  const nodesOf = async (peer) => Object.keys(await cl.redis.hgetall(`${cl.prefix}:pp:app1:${peer}`)).sort();
  const placement = [await nodesOf('xavier'), await nodesOf('yara'), await nodesOf('zoe')];
  assert.deepEqual(placement.flat().sort(), ['node0', 'node1', 'node2'], `one client per node: ${JSON.stringify(placement)}`);
  const xNode = Number(placement[0][0].slice(4));
  const reconnected = waitEvent(x, 'connected', (e) => e.isReconnect, 15000);
  await cl.kill(xNode);
  assert.equal((await reconnected).isReconnect, true);
  await until(async () => { const w = await nodesOf('xavier'); return w.length === 1 && w[0] !== `node${xNode}`; }, 10000, 'xavier on another node');
  // Resubscribed by itself on another node: messages flow both ways again.
  await until(async () => {
    const got = waitEvent(y, 'message', (m) => m.from === 'xavier', 300).then(() => true, () => false);
    await x.publish('call', { again: true }).catch(() => {});
    return got;
  }, 10000, 'xavier\'s messages reach yara after the reconnect');
  const gotDirect = waitEvent(x, 'direct', (d) => d.from === 'yara', 5000);
  await until(async () => (await y.send('xavier', 'welcome back').then(() => true, () => false)), 5000, 'direct to xavier');
  await gotDirect;
  // After the dead node's entries are swept (heartbeat 0.5 s + timeout 3 s, and some margin),
  // xavier is still present for everyone: its new connection holds the presence.
  await sleep(5500);
  assert.ok(yView.set.has('xavier'), `yara lost xavier: ${JSON.stringify(yView.log)}`);
  assert.ok(zView.set.has('xavier'), `zoe lost xavier: ${JSON.stringify(zView.log)}`);
  for (const n of alive()) {
    const peers = (await rest(n).get('/v1/channels/call/peers')).json.peers.map((e) => e.peerId).sort();
    assert.deepEqual(peers, ['xavier', 'yara', 'zoe']);
  }
});
