// Helpers for tests/hostile: a parleyd configured for abuse tests, a well-behaved pair of clients
// that keeps exchanging messages while other connections misbehave (and must see no error and no
// loss), and the server's resident memory read from /proc.
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startParleyd, defaultKeys } from './parleyd.mjs';
import { buildConfig } from './confbuild.mjs';
import { RawClient } from './client.mjs';
import { metricValue, scrape } from './promtext.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A second app whose connections have the default per-connection rate (100/s, burst 200): the
// floods that must end in 4011 use it. Its publishable key:
export const strictKey = 'pk_live_strict000000000000000000000000000';

/**
 * Starts parleyd for a hostile test. `server` adds [server] options. The app "test" (defaultKeys)
 * has a high per-connection rate so the pair and the attackers are limited only where a test
 * says so; the app "strict" (strictKey) keeps the default rate. ASan's quarantine is kept small
 * so that VmRSS shows what parleyd really holds (as in limits-slow-consumer.test.mjs).
 */
export async function startHostile({ server = {}, env = {} } = {}) {
  const config = `${buildConfig({
    server: { connect_burst_per_ip: 100000, connect_rate_per_ip: 100000, ...server },
    app: { rate_limit_per_second: 100000, rate_limit_burst: 100000 },
  })}
[[apps]]
id = "strict"
[[apps.keys]]
type = "publishable"
id = "${strictKey}"
channels = ["**"]
actions = ["subscribe", "publish", "presence", "send"]
`;
  return startParleyd({
    config,
    env: { ASAN_OPTIONS: 'detect_leaks=1:quarantine_size_mb=8', ...env },
  });
}

// Resident memory of a process, in kB (VmRSS of /proc/<pid>/status).
export function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

/**
 * Samples parleyd's VmRSS every 50 ms until stop() and reports the peak.
 * Returns { stop(): { baseKb, peakKb, growthMb } }.
 */
export function watchRss(srv) {
  const baseKb = rssKb(srv.proc.pid);
  let peakKb = baseKb;
  const timer = setInterval(() => {
    try { peakKb = Math.max(peakKb, rssKb(srv.proc.pid)); } catch { /* exited */ }
  }, 50);
  timer.unref(); // a test that fails before stop() must not keep the process alive
  return {
    stop() {
      clearInterval(timer);
      try { peakKb = Math.max(peakKb, rssKb(srv.proc.pid)); } catch { /* exited */ }
      return { baseKb, peakKb, growthMb: Math.round((peakKb - baseKb) / 1024) };
    },
  };
}

/**
 * Two well-behaved clients on channel `channel`: each publishes numbered messages (awaiting its
 * ack, with a short pause between them) and sends numbered directs to the other. check() stops
 * them and asserts that each side received every message and direct of the other exactly once,
 * in order, with no error frame and no close. Nothing here is timed: only loss is checked.
 */
export async function startPair(srv, { channel = 'pair', pauseMs = 5, key = defaultKeys.pk } = {}) {
  const a = await RawClient.open(srv.ws, { key });
  const b = await RawClient.open(srv.ws, { key });
  for (const c of [a, b]) assert.equal((await c.request({ type: 'subscribe', channel })).type, 'ack');
  let stop = false;
  const sent = { a: 0, b: 0 };
  const failures = [];
  async function pump(self, other, tag) {
    while (!stop) {
      const n = sent[tag]++;
      const r = await self.request({ type: 'publish', channel, data: { from: tag, n } }, 30000);
      if (r.type !== 'ack') failures.push(`${tag} publish ${n}: ${JSON.stringify(r)}`);
      const d = await self.request({ type: 'send', to: other.peerId, data: { from: tag, n } }, 30000);
      if (d.type !== 'ack') failures.push(`${tag} send ${n}: ${JSON.stringify(d)}`);
      await sleep(pauseMs);
    }
  }
  const pumps = [pump(a, b, 'a'), pump(b, a, 'b')];
  // Pumps that fail (the server gone, a timeout) are reported by check(); abort() ends them.
  for (const p of pumps) p.catch((e) => failures.push(String(e)));
  return {
    a,
    b,
    sent,
    // Stops the pair without checking (test cleanup after a failure).
    abort() {
      stop = true;
      a.ws.terminate();
      b.ws.terminate();
    },
    // Waits until both sides have exchanged at least `n` more messages (progress under attack).
    async progress(n = 5) {
      const start = { ...sent };
      for (let i = 0; i < 600 && (sent.a - start.a < n || sent.b - start.b < n); i++) await sleep(50);
      assert.ok(sent.a - start.a >= n && sent.b - start.b >= n, `the pair made no progress (${JSON.stringify(sent)})`);
    },
    async check() {
      stop = true;
      await Promise.allSettled(pumps);
      assert.deepEqual(failures, [], 'every publish and send of the pair was acked');
      for (const [receiver, tag] of [[b, 'a'], [a, 'b']]) {
        for (let n = 0; n < sent[tag]; n++) {
          const m = await receiver.next((f) => f.type === 'message' && f.data.from === tag, 10000);
          assert.equal(m.data.n, n, `${tag}'s message ${n} arrived, in order`);
        }
        for (let n = 0; n < sent[tag]; n++) {
          const d = await receiver.next((f) => f.type === 'direct' && f.data.from === tag, 10000);
          assert.equal(d.data.n, n, `${tag}'s direct ${n} arrived, in order`);
        }
      }
      for (const c of [a, b]) {
        assert.equal(c.closed, null, 'the pair stays open');
        assert.deepEqual(c.all.filter((f) => f.type === 'error' || f.type === '__unparseable__'), [], 'the pair saw no error');
        assert.deepEqual(c.frames.filter((f) => f.type === 'message' || f.type === 'direct'), [], 'no duplicate or foreign message');
      }
      assert.ok(sent.a > 0 && sent.b > 0);
      await a.close();
      await b.close();
      return { ...sent };
    },
  };
}

// Current value of a metric (0 when absent).
export async function metric(srv, name, labels = {}) {
  return metricValue(await scrape(srv), name, labels) ?? 0;
}

// Waits until parley_connections equals `n` (connections leave asynchronously).
export async function connectionsSettle(srv, n, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let v;
  while (Date.now() < deadline) {
    v = await metric(srv, 'parley_connections');
    if (v === n) return;
    await sleep(100);
  }
  assert.fail(`parley_connections is ${v}, expected ${n}`);
}

// Opens a raw TCP connection to parleyd; resolves once connected. Errors are swallowed (the
// server may reset it), `gone` resolves when it ends. What the server sends is read and dropped
// (add a 'data' listener to see it): a socket left paused never reads the server's FIN, so it
// would never end.
export function tcpConnect(srv) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: srv.host, port: srv.port });
    s.on('error', () => {});
    s.resume();
    s.gone = new Promise((r) => s.on('close', r));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}
