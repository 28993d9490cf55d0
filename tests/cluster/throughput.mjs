#!/usr/bin/env node
// Cross-node throughput, measured simply (not part of `make test`):
//
//   node tests/cluster/throughput.mjs [--parleyd PATH] [--messages N] [--subscribers M] [--size BYTES]
//                               [--threads T] [--window W]
//
// Publishes N messages from one connection and counts their deliveries to M subscribers of the
// channel, in three set-ups:
//   one node   — publisher and subscribers on the same parleyd (memory engine);
//   cross-node — publisher on node A, subscribers on node B, two parleyd sharing a redis-server;
//   both ends on A — the same two-node cluster with publisher and subscribers on node A.
// The publisher stays at most W messages ahead of the slowest subscriber, so the figure is the
// sustained rate of the whole path, not how fast a socket buffer fills. Prints delivered
// messages per second (N × M / elapsed) for each set-up. PARLEYD or --parleyd chooses the binary
// (a release build gives representative numbers); --threads sets each node's [server] threads.
import { parseArgs } from 'node:util';
import os from 'node:os';
import WebSocket from 'ws';
import { startParleyd, defaultConfig, binary as defaultBinary } from '../lib/parleyd.mjs';
import { Redis, nodeConfig, uniquePrefix, waitClusterNodes, KEYS, ALL_ACTIONS } from '../lib/cluster.mjs';
import { appsToml, relaxedServer } from '../lib/proto.mjs';

const { values: opt } = parseArgs({
  options: {
    parleyd: { type: 'string' },
    messages: { type: 'string', default: '50000' },
    subscribers: { type: 'string', default: '10' },
    size: { type: 'string', default: '100' },
    threads: { type: 'string', default: '2' },
    window: { type: 'string', default: '10000' },
  },
});
if (opt.parleyd) process.env.PARLEYD = opt.parleyd;
const N = Number(opt.messages);
const M = Number(opt.subscribers);
const SIZE = Number(opt.size);
const WINDOW = Number(opt.window);
process.env.PARLEY_TEST_THREADS = opt.threads;

const apps = [{
  id: 'app1',
  settings: { rate_limit_per_second: 100000000, rate_limit_burst: 100000000 },
  keys: [{ type: 'publishable', id: KEYS.pk, channels: ['**'], actions: ALL_ACTIONS }],
}];

function openWs(srv) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.ws}/v1?key=${KEYS.pk}`);
    ws.once('message', () => resolve(ws)); // the welcome
    ws.once('error', reject);
  });
}

// Sends a request and resolves on its ack.
function request(ws, frame) {
  return new Promise((resolve) => {
    const requestId = `r${Math.random()}`;
    const onMsg = (d) => {
      if (d.toString().includes(`"requestId":"${requestId}"`)) {
        ws.off('message', onMsg);
        resolve();
      }
    };
    ws.on('message', onMsg);
    ws.send(JSON.stringify({ ...frame, requestId }));
  });
}

async function run(label, pubNode, subNode) {
  const pub = await openWs(pubNode);
  const subs = [];
  const counts = new Array(M).fill(0);
  let onProgress = () => {};
  const step = Math.max(1, Math.floor(WINDOW / 4));
  for (let i = 0; i < M; i++) {
    const ws = await openWs(subNode);
    await request(ws, { type: 'subscribe', channel: 'bench' });
    ws.on('message', () => {
      if (++counts[i] % step === 0 || counts[i] >= N) onProgress();
    });
    subs.push(ws);
  }
  // Warm-up: until one message published on pubNode reaches every subscriber.
  for (;;) {
    counts.fill(0);
    pub.send(JSON.stringify({ type: 'publish', channel: 'bench', data: 'warm-up' }));
    await new Promise((r) => setTimeout(r, 100));
    if (counts.every((c) => c >= 1)) break;
  }
  await new Promise((r) => setTimeout(r, 200));
  counts.fill(0);

  const payload = 'x'.repeat(Math.max(0, SIZE - 20));
  const min = () => { let m = Infinity; for (const c of counts) if (c < m) m = c; return m; };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let sent = 0;
  // Event-driven: the publisher is refilled when subscribers report progress (no busy loop, which
  // would steal CPU from the servers on a small machine).
  await new Promise((resolve) => {
    onProgress = () => {
      const floor = min();
      if (floor >= N) { onProgress = () => {}; resolve(); return; }
      while (sent < N && sent - floor < WINDOW) {
        pub.send(`{"type":"publish","channel":"bench","data":{"n":${sent},"p":"${payload}"}}`);
        sent++;
      }
    };
    onProgress();
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  for (const ws of [pub, ...subs]) ws.close();
  const delivered = N * M;
  return {
    label,
    seconds: seconds.toFixed(2),
    publishesPerSec: Math.round(N / seconds),
    deliveredPerSec: Math.round(delivered / seconds),
    clientCpu: `${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)}%`,
  };
}

const results = [];
const config = defaultConfig({ server: relaxedServer, apps: appsToml(apps) });

// One node, memory engine.
{
  const srv = await startParleyd({ config });
  try {
    results.push(await run('one node (memory engine)', srv, srv));
  } finally {
    await srv.stop();
  }
}

// Two nodes sharing Redis: publisher on A, subscribers on B.
{
  const redis = await Redis.start();
  const prefix = uniquePrefix('bench');
  const nodes = [];
  try {
    for (let i = 0; i < 2; i++) {
      nodes.push(await startParleyd({ config: nodeConfig({ apps, engine: { url: redis.url, prefix, node_id: `bench${i}` } }) }));
    }
    await waitClusterNodes(nodes, 2);
    results.push(await run('cross-node (A -> Redis -> B)', nodes[0], nodes[1]));
    results.push(await run('two nodes, both ends on A', nodes[0], nodes[0]));
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}

console.log(`parleyd: ${process.env.PARLEYD || defaultBinary}`);
console.log(`messages ${N}, subscribers ${M}, payload ~${SIZE} B, parleyd threads ${opt.threads}, window ${WINDOW}, host ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
console.table(results);
