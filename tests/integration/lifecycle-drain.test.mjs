// PROTOCOL.md §15 (and §3, §7, §12, §18): graceful shutdown on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { httpGet } from '../lib/rawhttp.mjs';
import { metricValue, parseMetrics } from '../lib/promtext.mjs';
import { RawWs, OP } from '../lib/rawws.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what} did not happen within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

test('SIGTERM drains: readyz 503, going_away then 1001 spread over the window, exit 0', async (t) => {
  const WINDOW = 2000;
  const srv = await startParleyd({ config: buildConfig({ server: { drain_window: 2, connect_burst_per_ip: 1000 } }) });
  t.after(() => srv.stop());
  const clients = [];
  for (let i = 0; i < 8; i++) clients.push(await RawWs.open(srv, { key: defaultKeys.pk, autoClose: true }));
  t.after(() => clients.forEach((c) => c.destroy()));
  // Each client answers going_away with a JSON ping: until its close a connection works normally.
  for (const c of clients) {
    c.pingAfterGoingAway = c.nextJson('going_away', 10000).then((g) => { c.sendText({ type: 'ping' }); return g; });
  }

  const t0 = Date.now();
  srv.proc.kill('SIGTERM');

  // /readyz answers 503 right away (allowing for the signal's delivery to the process: within
  // 500 ms), and never 200 again; /healthz and /metrics keep working.
  let ready;
  for (;;) {
    ready = await httpGet(srv, '/readyz');
    if (ready.status !== 200 || Date.now() - t0 > 500) break;
    await sleep(10);
  }
  assert.equal(ready.status, 503, `readyz during drain: ${ready.status} ${ready.body}`);
  assert.equal((await httpGet(srv, '/readyz')).status, 503, 'readyz stays 503');
  assert.match(ready.headers['content-type'] ?? '', /^application\/json\s*(;|$)/i);
  assert.deepEqual(ready.json, { error: 'not_ready', message: 'draining' });
  const health = await httpGet(srv, '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { status: 'ok' });
  const metrics = await httpGet(srv, '/metrics');
  assert.equal(metrics.status, 200);
  assert.equal(metricValue(parseMetrics(metrics.body), 'parley_draining'), 1);

  // A new upgrade during the drain: 101, then close 1001 going_away without welcome.
  const late = await RawWs.connect(srv, { key: defaultKeys.pk, autoClose: true });
  t.after(() => late.destroy());
  assert.equal(late.response.status, 101, `upgrade during drain: ${late.response.status} ${late.response.body}`);
  assert.deepEqual(await late.closed(3000), { code: 1001, reason: 'going_away' });
  assert.deepEqual(late.all.filter((f) => f.opcode === OP.text).map((f) => f.text), [], 'no welcome (nor anything else) before the close');
  const lateAt = late.closeFrame.at - t0;
  assert.ok(lateAt < WINDOW, `the late upgrade was closed at once (after ${lateAt} ms)`);

  // Every client: going_away (exactly this frame) first, then close 1001 within the window.
  const closeTimes = [];
  for (const c of clients) {
    const g = await c.pingAfterGoingAway;
    assert.deepEqual(g, { type: 'going_away', retryAfterMs: 1000 });
    const cl = await c.closed(WINDOW + 3000);
    assert.deepEqual(cl, { code: 1001, reason: 'going_away' });
    const ga = c.all.find((f) => f.json?.type === 'going_away');
    assert.ok(ga.at <= c.closeFrame.at, 'going_away precedes the close');
    assert.ok(ga.at - t0 < 1000, `going_away sent right away (after ${ga.at - t0} ms)`);
    const at = c.closeFrame.at - t0;
    assert.ok(at <= WINDOW + 1000, `closed ${at} ms after SIGTERM, window is ${WINDOW} ms`);
    closeTimes.push(at);
    // Nothing after the close frame; the connection ends once we answered it.
    await c.end(7000);
  }
  // Closes are spread over the window, not simultaneous (8 uniform draws over 2 s).
  const spread = Math.max(...closeTimes) - Math.min(...closeTimes);
  assert.ok(spread >= 300, `close times ${JSON.stringify(closeTimes.sort((a, b) => a - b))} are not spread over the window`);
  // Connections worked normally until closed: those closed after their ping got a pong first.
  const answered = clients.filter((c) => c.all.some((f) => f.json?.type === 'pong'));
  assert.ok(answered.length >= 1, 'at least one client got a pong during the drain');
  for (const c of answered) {
    const pong = c.all.find((f) => f.json?.type === 'pong');
    assert.ok(pong.at <= c.closeFrame.at);
  }

  const exit = await withTimeout(srv.exited, WINDOW + 5000 - (Date.now() - t0), 'process exit');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - t0 <= WINDOW + 5000);
});

test('going_away_retry_ms sets retryAfterMs; a client that never answers the close does not keep parleyd alive', async (t) => {
  const srv = await startParleyd({ config: buildConfig({ server: { drain_window: 1, going_away_retry_ms: 2500 } }) });
  t.after(() => srv.stop());
  const polite = await RawWs.open(srv, { key: defaultKeys.pk, autoClose: true });
  const mute = await RawWs.open(srv, { key: defaultKeys.pk }); // reads, but never sends a close
  t.after(() => { polite.destroy(); mute.destroy(); });
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  for (const c of [polite, mute]) {
    assert.deepEqual(await c.nextJson('going_away', 3000), { type: 'going_away', retryAfterMs: 2500 });
    assert.deepEqual(await c.closed(4000), { code: 1001, reason: 'going_away' });
  }
  // Window (1 s) + close handshake timeout (5 s) + margin.
  const exit = await withTimeout(srv.exited, 10000, 'process exit');
  assert.deepEqual(exit, { code: 0, signal: null });
  const mEnd = await mute.end(1000);
  assert.ok(mEnd.at - t0 <= 9000);
});

test('a drain with no connections exits promptly with code 0', async (t) => {
  const srv = await startParleyd({ config: buildConfig({ server: { drain_window: 2 } }) });
  t.after(() => srv.stop());
  assert.equal((await httpGet(srv, '/readyz')).status, 200);
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  const exit = await withTimeout(srv.exited, 2000 + 4000, 'process exit');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - t0 <= 6000);
  await sleep(0);
});

test('SIGTERM as soon as parleyd reports listening is a drain too (exit code 0, not death by signal)', async (t) => {
  const srv = await startParleyd({ config: buildConfig({ server: { drain_window: 1 } }) });
  t.after(() => srv.stop());
  srv.proc.kill('SIGTERM');
  const exit = await withTimeout(srv.exited, 1000 + 4000, 'process exit');
  assert.deepEqual(exit, { code: 0, signal: null });
});
