// Cluster harness: a real redis-server on a free loopback port and N parleyd nodes sharing it
// through `[engine] type = "redis"` (PROTOCOL.md section 19). Everything started here is stopped
// in t.after (and killed on process exit as a last resort).
import { spawn, execFile } from 'node:child_process';
import net from 'node:net';
import { before, after } from 'node:test';
import { startParleyd, defaultConfig } from './parleyd.mjs';
import { appsToml, relaxedServer } from './proto.mjs';
import { RawClient } from './client.mjs';
import { request, restClient } from './control.mjs';
import { mintToken } from './jwt.mjs';
import { parseMetrics, metricValue } from './promtext.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const redisProcs = new Set();
process.on('exit', () => {
  for (const p of redisProcs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Sends PING over a fresh TCP connection; resolves true on +PONG. */
function tcpPing(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok) => { clearTimeout(t); sock.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { buf += d; if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
    sock.on('error', () => done(false));
  });
}

/**
 * A redis-server process. start() picks a free port the first time and reuses it on restart, so
 * nodes configured with its URL reconnect to the new process.
 */
export class Redis {
  constructor(port) {
    this.port = port;
    this.proc = null;
    this.exited = null;
    this.log = '';
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  static async start() {
    const r = new Redis(await freeTcpPort());
    await r.start();
    return r;
  }

  async start(timeoutMs = 10000) {
    if (this.running) throw new Error('redis-server already running');
    const proc = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no',
      '--bind', '127.0.0.1', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    redisProcs.add(proc);
    this.proc = proc;
    proc.stdout.on('data', (d) => { this.log += d; });
    proc.stderr.on('data', (d) => { this.log += d; });
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
      redisProcs.delete(proc);
      resolve({ code, signal });
    }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited at start:\n${this.log}`);
      if (await tcpPing(this.port)) return this;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING in ${timeoutMs} ms:\n${this.log}`);
      await sleep(50);
    }
  }

  get running() { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null; }

  /** Stops the server (SIGKILL by default: a crash; its data is gone since nothing is saved). */
  async stop(signal = 'SIGKILL') {
    if (!this.running) return;
    this.proc.kill(signal);
    await this.exited;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  /** Runs redis-cli against this server; resolves to its stdout (trimmed). */
  cli(...args) {
    return new Promise((resolve, reject) => {
      execFile('redis-cli', ['-p', String(this.port), ...args], { timeout: 10000 }, (err, stdout) => {
        if (err) reject(err); else resolve(stdout.trim());
      });
    });
  }

  /** Every key of the prefix (SCAN), sorted. */
  async keys(prefix) {
    const out = await this.cli('--scan', '--pattern', `${prefix}:*`);
    return out ? out.split('\n').sort() : [];
  }

  /** HGETALL as an object. */
  async hgetall(key) {
    const out = await this.cli('HGETALL', key);
    const lines = out === '' ? [] : out.split('\n');
    const obj = {};
    for (let i = 0; i + 1 < lines.length; i += 2) obj[lines[i]] = lines[i + 1];
    return obj;
  }

  /** PUBSUB CHANNELS <pattern> as a sorted array. */
  async pubsubChannels(pattern = '*') {
    const out = await this.cli('PUBSUB', 'CHANNELS', pattern);
    return out ? out.split('\n').sort() : [];
  }

  /** PUBSUB NUMSUB for one channel. */
  async numsub(channel) {
    const lines = (await this.cli('PUBSUB', 'NUMSUB', channel)).split('\n');
    return Number(lines[1]);
  }

  /** PUBSUB NUMPAT. */
  async numpat() { return Number(await this.cli('PUBSUB', 'NUMPAT')); }

  /** Calls of one command since start (INFO commandstats), 0 when never called. */
  async commandCalls(cmd) {
    const info = await this.cli('INFO', 'commandstats');
    const m = new RegExp(`^cmdstat_${cmd.toLowerCase()}:calls=(\\d+)`, 'm').exec(info);
    return m ? Number(m[1]) : 0;
  }
}

let prefixSeq = 0;
/** A Redis prefix unique to this process and call (letters, digits, '_', '-' and '.'). */
export function uniquePrefix(name = 't') {
  return `${name}-${process.pid}-${++prefixSeq}`;
}

/** The TOML of one node: defaultConfig with relaxed limits, the given apps, and an [engine] section. */
export function nodeConfig({ apps, server = '', engine }) {
  const lines = Object.entries(engine).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? JSON.stringify(v) : v}`);
  return `${defaultConfig({ server: relaxedServer + server, apps: apps === undefined ? undefined : appsToml(apps) })}
[engine]
type = "redis"
${lines.join('\n')}
`;
}

/**
 * Starts a cluster and registers its teardown on `t` (a test context; null: call stop() yourself).
 * opts:
 *  - nodes: number of parleyd nodes (default 3)
 *  - apps: apps as in proto.mjs appsToml (default: defaultConfig's app `test`)
 *  - server: extra [server] TOML
 *  - engine: extra [engine] options ({ heartbeat_interval, node_timeout, node_id… })
 *  - redis: an already running Redis to share (default: a new one)
 *  - prefix: the [engine] prefix (default: a unique one)
 * Resolves to { redis, prefix, nodes: [srv…], config(i), startNode(i), kill(i, signal) }.
 */
export async function startCluster(t, { nodes = 3, apps, server = '', engine = {}, redis, prefix } = {}) {
  const ownRedis = !redis;
  const r = redis ?? await Redis.start();
  const p = prefix ?? uniquePrefix('c');
  const all = []; // every node process started, restarts included
  const cluster = {
    redis: r,
    prefix: p,
    nodes: [],
    config(i) {
      return nodeConfig({ apps, server, engine: { url: r.url, prefix: p, node_id: `node${i}`, ...engine } });
    },
    // Starts (or restarts) node i with the same configuration and node id.
    async startNode(i) {
      const srv = await startParleyd({ config: cluster.config(i) });
      cluster.nodes[i] = srv;
      all.push(srv);
      return srv;
    },
    // Kills node i (SIGKILL: a crash; SIGTERM: a graceful stop, which must exit 0).
    async kill(i, signal = 'SIGKILL') {
      const srv = cluster.nodes[i];
      srv.expectedSignal = signal;
      const res = await srv.kill(signal);
      if (signal === 'SIGTERM' && res.code !== 0) throw new Error(`node ${i} exited with ${res.code ?? res.signal} after SIGTERM:\n${srv.stderr().slice(-4000)}`);
      return res;
    },
    // Stops every node gracefully and Redis. A node that died by itself (crash, sanitizer report)
    // or did not exit 0 after SIGTERM fails the test with its stderr.
    async stop() {
      const problems = [];
      await Promise.all(all.map(async (n, k) => {
        const died = n.proc.exitCode !== null || n.proc.signalCode !== null;
        if (died && !n.expectedSignal) problems.push(`a node (#${k}) died by itself (${n.proc.exitCode ?? n.proc.signalCode}):\n${n.stderr().slice(-4000)}`);
        if (died) return;
        const res = await n.stop(5000);
        if (res.code !== 0) problems.push(`a node (#${k}) exited with ${res.code ?? res.signal} on SIGTERM:\n${n.stderr().slice(-4000)}`);
      }));
      if (ownRedis) await r.stop();
      if (problems.length) throw new Error(problems.join('\n\n'));
    },
  };
  t?.after(() => cluster.stop());
  await Promise.all(Array.from({ length: nodes }, (_, i) => cluster.startNode(i)));
  // Every node registered with the others: each sees the full node set.
  await waitClusterNodes(cluster.nodes, nodes);
  return cluster;
}

/** Waits until every node's parley_cluster_nodes equals `n` and parley_redis_up is 1. */
export async function waitClusterNodes(nodes, n, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(nodes.map(async (s) => {
      const m = await metrics(s);
      return { up: metricValue(m, 'parley_redis_up'), nodes: metricValue(m, 'parley_cluster_nodes') };
    }));
    if (states.every((s) => s.up === 1 && s.nodes === n)) return;
    if (Date.now() > deadline) throw new Error(`cluster did not form: ${JSON.stringify(states)}`);
    await sleep(100);
  }
}

/** Parsed /metrics of a node. */
export async function metrics(srv) {
  const res = await request(srv, 'GET', '/metrics');
  if (res.status !== 200) throw new Error(`/metrics: ${res.status} ${res.body}`);
  return parseMetrics(res.body);
}

export async function metric(srv, name, labels) {
  return metricValue(await metrics(srv), name, labels);
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function until(fn, timeoutMs = 10000, what = 'condition', stepMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(stepMs);
  }
}

/**
 * One three-node cluster with clusterApps(), shared by every test of a file: registers the file's
 * before/after hooks, and calls started(cluster) (startCluster's result) once it runs. Returns
 * client(srv, opts), which opens a raw client (the publishable key by default) that `after`
 * closes before the cluster stops.
 */
export function sharedCluster(started) {
  const open = [];
  let cluster = null;
  before(async () => {
    cluster = await startCluster(null, { apps: clusterApps() });
    started(cluster);
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await cluster?.stop();
  });
  return async function client(srv, opts = { key: KEYS.pk }) {
    const c = await RawClient.open(srv.ws, opts);
    open.push(c);
    return c;
  };
}

/** Opens raw clients and closes them in t.after. */
export function clients(t) {
  const list = [];
  t.after(async () => { await Promise.all(list.map((c) => c.close().catch(() => {}))); });
  return {
    list,
    async open(srv, opts) {
      const c = await RawClient.open(srv.ws, opts);
      list.push(c);
      return c;
    },
  };
}

/**
 * Follows the presence of one channel as a client sees it (snapshot, then deltas) and checks
 * section 8.4 on the fly: a delta never repeats what is already known (joined of a present peer,
 * left of an absent one) and never concerns the client itself. `violations` collects breaches.
 */
export class PresenceView {
  constructor(client, channel) {
    this.client = client;
    this.channel = channel;
    this.peers = null;          // Map peerId -> entry, null until the snapshot
    this.violations = [];
    this.seen = client.all.length; // frames before the view was created are not ours
    this.expectSnapshot = true;
  }

  /** Call before re-subscribing: the next presence frame is a fresh snapshot. */
  resubscribed() {
    this.update();
    this.expectSnapshot = true;
  }

  /** Applies every presence frame for the channel received so far (from client.all). */
  update() {
    const all = this.client.all;
    for (; this.seen < all.length; this.seen++) {
      const f = all[this.seen];
      if (f.type !== 'presence' || f.channel !== this.channel) continue;
      if (this.expectSnapshot) {
        if (f.left.length !== 0) this.violations.push(`snapshot with left: ${JSON.stringify(f)}`);
        this.peers = new Map();
        this.expectSnapshot = false;
        for (const e of f.joined) {
          if (e.peerId === this.client.peerId) this.violations.push(`snapshot lists itself: ${JSON.stringify(f)}`);
          if (this.peers.has(e.peerId)) this.violations.push(`snapshot lists a peer twice: ${JSON.stringify(f)}`);
          this.peers.set(e.peerId, e);
        }
        continue;
      }
      if (f.joined.length + f.left.length !== 1) this.violations.push(`delta without exactly one entry: ${JSON.stringify(f)}`);
      for (const e of f.joined) {
        if (e.peerId === this.client.peerId) this.violations.push(`joined about itself: ${JSON.stringify(f)}`);
        if (this.peers.has(e.peerId)) this.violations.push(`joined of a present peer: ${JSON.stringify(f)}`);
        this.peers.set(e.peerId, e);
      }
      for (const e of f.left) {
        if (e.peerId === this.client.peerId) this.violations.push(`left about itself: ${JSON.stringify(f)}`);
        if (!this.peers.has(e.peerId)) this.violations.push(`left of an absent peer: ${JSON.stringify(f)}`);
        this.peers.delete(e.peerId);
      }
    }
    return this;
  }

  /** The sorted peerIds currently known (null before the snapshot). */
  ids() {
    this.update();
    return this.peers === null ? null : [...this.peers.keys()].sort();
  }

  /** Waits until the view equals `expected` (peerIds, any order). */
  async waitFor(expected, timeoutMs = 10000) {
    const want = [...expected].sort();
    try {
      await until(() => JSON.stringify(this.ids()) === JSON.stringify(want), timeoutMs,
        `presence of ${this.channel} at ${this.client.peerId} to be ${JSON.stringify(want)}`);
    } catch (e) {
      throw new Error(`${e.message}; it is ${JSON.stringify(this.ids())}; violations: ${JSON.stringify(this.violations)}`);
    }
  }
}

/**
 * A round-robin TCP load balancer on 127.0.0.1 in front of `targets()` (a function returning the
 * current list of {host, port}); a connection to a target that refuses is retried on the next
 * one. No stickiness of any kind. Resolves to { port, ws, close() }.
 */
export async function startBalancer(t, targets) {
  let next = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const list = targets();
    const attempt = (tries) => {
      if (tries >= list.length) { client.destroy(); return; }
      const target = list[next++ % list.length];
      const upstream = net.connect({ host: target.host, port: target.port });
      const refused = () => attempt(tries + 1);
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        sockets.add(upstream);
        upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
        client.on('close', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const lb = {
    port,
    ws: `ws://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  t.after(() => lb.close());
  return lb;
}

// ---------------------------------------------------------------- apps and credentials

export const KEYS = {
  pk: 'pk_live_cluster00000000000000000000000000',
  skId: 'sk_id_cluster0000000000000000000000000000',
  skSecret: 'sk_secret_cluster000000000000000000000000',
  pk2: 'pk_live_cluster00000000000000000000000002',
};
export const ALL_ACTIONS = ['subscribe', 'publish', 'presence', 'send'];

/**
 * The apps most cluster tests use: `app1` (publishable key allowed everything, a secret key) with
 * `settings`, and `app2` (one publishable key) to check that apps stay apart across nodes.
 */
export function clusterApps(settings = {}) {
  return [
    {
      id: 'app1',
      settings,
      keys: [
        { type: 'publishable', id: KEYS.pk, channels: ['**'], actions: ALL_ACTIONS },
        { type: 'secret', id: KEYS.skId, secret: KEYS.skSecret, channels: ['**'] },
      ],
    },
    { id: 'app2', keys: [{ type: 'publishable', id: KEYS.pk2, channels: ['**'], actions: ALL_ACTIONS }] },
  ];
}

/** A connection token of app1 for peerId `sub` (extra claims: peerMetadata, channels, …). */
export function tokenFor(sub, claims = {}) {
  return mintToken({ kid: KEYS.skId, secret: KEYS.skSecret, claims: { sub, ...claims } });
}

/** REST client of app1 on one node. */
export function rest(srv) {
  return restClient(srv, { id: KEYS.skId, secret: KEYS.skSecret });
}

/**
 * A TCP proxy on 127.0.0.1 to `port` that can be cut (every connection dropped, new ones refused)
 * and restored: Redis unreachable for the nodes while it keeps running with its data, as in a
 * network partition. Resolves to { port, url, cut(), restore(), close() }.
 */
export async function startCuttableProxy(t, port) {
  const sockets = new Set();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) { client.destroy(); return; }
    const upstream = net.connect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = {
    port: server.address().port,
    get url() { return `redis://127.0.0.1:${proxy.port}`; },
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() { open = true; },
    async close() {
      proxy.cut();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  t?.after(() => proxy.close());
  return proxy;
}
