// PROTOCOL.md §18: /healthz, /readyz and /metrics (format, required families, counters that move
// with traffic). Drain-time behaviour of these endpoints is in lifecycle-drain.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { rawHttp, requestText, httpGet } from '../lib/rawhttp.mjs';
import { parseMetrics, metricValue, scrape } from '../lib/promtext.mjs';
import { RawClient } from '../lib/client.mjs';
import { RawWs } from '../lib/rawws.mjs';

let srv;
before(async () => {
  srv = await startParleyd({ config: buildConfig({ server: { connect_burst_per_ip: 10000, connect_rate_per_ip: 1000 } }) });
});
after(() => srv?.stop());

function assertJsonType(res) {
  assert.match(res.headers['content-type'] ?? '', /^application\/json\s*(;|$)/i, 'Content-Type');
}

test('GET /healthz answers 200 {"status":"ok"}', async () => {
  const res = await httpGet(srv, '/healthz');
  assert.equal(res.status, 200);
  assertJsonType(res);
  assert.deepEqual(res.json, { status: 'ok' });
});

test('GET /readyz answers 200 {"status":"ready"} while admitting', async () => {
  const res = await httpGet(srv, '/readyz');
  assert.equal(res.status, 200);
  assertJsonType(res);
  assert.deepEqual(res.json, { status: 'ready' });
});

test('operational endpoints accept GET only: other methods get 405', async () => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await rawHttp(srv, requestText(method, path, srv, { Connection: 'close' }, method === 'POST' ? '{}' : ''));
      assert.equal(res.status, 405, `${method} ${path}: ${res.status} ${res.body}`);
      assertJsonType(res);
      assert.deepEqual(Object.keys(res.json ?? {}).sort(), ['error', 'message'], res.body);
      assert.equal(res.json.error, 'method_not_allowed');
      assert.equal(typeof res.json.message, 'string');
    }
  }
});

test('query strings do not change the operational endpoints', async () => {
  const res = await httpGet(srv, '/healthz?verbose=1');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { status: 'ok' });
});

const requiredFamilies = {
  parley_connections: 'gauge',
  parley_connections_admitted_total: 'counter',
  parley_connections_closed_total: 'counter',
  parley_upgrades_refused_total: 'counter',
  parley_frames_received_total: 'counter',
  parley_frames_sent_total: 'counter',
  parley_errors_sent_total: 'counter',
  parley_deliveries_total: 'counter',
  parley_subscriptions: 'gauge',
  parley_rest_requests_total: 'counter',
  parley_draining: 'gauge',
};

test('GET /metrics is Prometheus text 0.0.4 listing every required family', async () => {
  const res = await httpGet(srv, '/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const m = parseMetrics(res.body);
  const missing = [];
  for (const [name, type] of Object.entries(requiredFamilies)) {
    const hasSample = m.samples.some((s) => s.name === name);
    if (!hasSample && !m.types[name]) {
      missing.push(name);
      continue;
    }
    if (m.types[name]) assert.equal(m.types[name], type, `# TYPE of ${name}`);
  }
  assert.deepEqual(missing, [], 'required metric families missing from /metrics');
  // Unlabelled ones always have a sample.
  for (const name of ['parley_connections', 'parley_connections_admitted_total', 'parley_deliveries_total', 'parley_subscriptions', 'parley_draining']) {
    assert.equal(typeof metricValue(m, name), 'number', `${name} sample`);
  }
  assert.equal(metricValue(m, 'parley_draining'), 0);
  // No app label unless per-app metrics are enabled (they are not here).
  assert.ok(!m.samples.some((s) => 'app' in s.labels), 'no sample carries an app label');
});

// Scrapes until `pred(metrics)` holds (counters are not required to be updated synchronously
// with the frames, but must be soon after); returns the last scrape.
async function scrapeUntil(pred, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  let m;
  for (;;) {
    m = await scrape(srv);
    if (pred(m) || Date.now() > deadline) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('metrics counters and gauges move with traffic', async () => {
  const v = (m, name, labels) => metricValue(m, name, labels) ?? 0;
  const before0 = await scrape(srv);
  const b = (name, labels) => v(before0, name, labels);

  // Three admitted connections.
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const sub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const idle = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  let m = await scrapeUntil((x) => v(x, 'parley_connections') >= b('parley_connections') + 3);
  assert.equal(v(m, 'parley_connections'), b('parley_connections') + 3, 'connections gauge +3');
  assert.equal(v(m, 'parley_connections_admitted_total'), b('parley_connections_admitted_total') + 3, 'admitted +3');

  // One subscription, five publishes (each delivered once), one JSON ping, one error (the
  // frame of an unknown type; how it is counted in frames_received is not specified).
  assert.equal((await sub.request({ type: 'subscribe', channel: 'metrics-room' })).type, 'ack');
  const N = 5;
  for (let i = 0; i < N; i++) {
    assert.equal((await pub.request({ type: 'publish', channel: 'metrics-room', data: { i } })).type, 'ack');
  }
  for (let i = 0; i < N; i++) await sub.next('message');
  pub.send({ type: 'ping' });
  await pub.next('pong');
  const err = await pub.request({ type: 'bogus' });
  assert.equal(err.code, 'unknown_type');

  m = await scrapeUntil((x) => v(x, 'parley_frames_received_total', { type: 'publish' }) >= b('parley_frames_received_total', { type: 'publish' }) + N
    && v(x, 'parley_deliveries_total') >= b('parley_deliveries_total') + N);
  assert.equal(v(m, 'parley_frames_received_total', { type: 'publish' }), b('parley_frames_received_total', { type: 'publish' }) + N, 'publish frames received');
  assert.equal(v(m, 'parley_frames_received_total', { type: 'subscribe' }), b('parley_frames_received_total', { type: 'subscribe' }) + 1, 'subscribe frames received');
  assert.equal(v(m, 'parley_frames_received_total', { type: 'ping' }), b('parley_frames_received_total', { type: 'ping' }) + 1, 'ping frames received');
  assert.equal(v(m, 'parley_frames_sent_total', { type: 'message' }), b('parley_frames_sent_total', { type: 'message' }) + N, 'message frames sent');
  assert.equal(v(m, 'parley_frames_sent_total', { type: 'ack' }), b('parley_frames_sent_total', { type: 'ack' }) + N + 1, 'ack frames sent');
  assert.equal(v(m, 'parley_frames_sent_total', { type: 'pong' }), b('parley_frames_sent_total', { type: 'pong' }) + 1, 'pong frames sent');
  assert.equal(v(m, 'parley_frames_sent_total', { type: 'welcome' }), b('parley_frames_sent_total', { type: 'welcome' }) + 3, 'welcome frames sent');
  assert.equal(v(m, 'parley_errors_sent_total', { code: 'unknown_type' }), b('parley_errors_sent_total', { code: 'unknown_type' }) + 1, 'unknown_type errors');
  assert.equal(v(m, 'parley_frames_sent_total', { type: 'error' }), b('parley_frames_sent_total', { type: 'error' }) + 1, 'error frames sent');
  assert.equal(v(m, 'parley_deliveries_total'), b('parley_deliveries_total') + N, 'deliveries');
  assert.equal(v(m, 'parley_subscriptions'), b('parley_subscriptions') + 1, 'subscriptions gauge');

  // A refused upgrade is counted by status.
  const refused = await rawHttp(srv, requestText('GET', '/v1', srv, { Connection: 'close' }));
  assert.equal(refused.status, 426);
  // Closes are counted by code: 1000 from a client close, 1003 for a binary frame, "none" for a
  // TCP connection that just disappears.
  await idle.close(1000);
  const bin = await RawWs.open(srv, { key: defaultKeys.pk });
  bin.sendFrame({ opcode: 2, payload: Buffer.from([1, 2, 3]) });
  assert.equal((await bin.closed()).code, 1003);
  bin.destroy();

  m = await scrapeUntil((x) => v(x, 'parley_connections') <= b('parley_connections') + 2
    && v(x, 'parley_connections_closed_total', { code: '1003' }) >= b('parley_connections_closed_total', { code: '1003' }) + 1);
  assert.equal(v(m, 'parley_upgrades_refused_total', { status: '426' }), b('parley_upgrades_refused_total', { status: '426' }) + 1, 'refused 426');
  assert.equal(v(m, 'parley_connections_closed_total', { code: '1000' }), b('parley_connections_closed_total', { code: '1000' }) + 1, 'closed 1000');
  assert.equal(v(m, 'parley_connections_closed_total', { code: '1003' }), b('parley_connections_closed_total', { code: '1003' }) + 1, 'closed 1003');
  assert.equal(v(m, 'parley_connections'), b('parley_connections') + 2, 'connections gauge after closes');
  assert.equal(v(m, 'parley_connections_admitted_total'), b('parley_connections_admitted_total') + 4, 'admitted');

  // Closing the subscriber removes its subscription from the gauge.
  await sub.close();
  await pub.close();
  m = await scrapeUntil((x) => v(x, 'parley_subscriptions') === b('parley_subscriptions') && v(x, 'parley_connections') === b('parley_connections'));
  assert.equal(v(m, 'parley_subscriptions'), b('parley_subscriptions'), 'subscriptions gauge back');
  assert.equal(v(m, 'parley_connections'), b('parley_connections'), 'connections gauge back');
});
