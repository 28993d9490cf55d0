// /metrics (PROTOCOL.md §18, §15): Prometheus text format 0.0.4 that parses line by line, every
// required family with its type and labels, no `app` label by default, and counters and gauges
// that move exactly with the traffic a test drives (connections, frames, errors, deliveries,
// subscriptions, REST requests, refused upgrades, TCP drops, draining).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { scrape, metricValue } from '../lib/promtext.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';
import { controlConfig, request, restClient, until, sleep } from '../lib/control.mjs';

const PK = 'pk_live_metrics00000000000000000000000000';
const SK_ID = 'sk_id_metrics000000000000000000000000001';
const SK = 'sk_secret_metrics00000000000000000000001';
const keys = [
  { type: 'publishable', id: PK, channels: ['**'], actions: ['subscribe', 'publish', 'presence', 'send'] },
  { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
];

let srv;
before(async () => {
  srv = await startParleyd({ config: controlConfig({ apps: [{ id: 'metrics', keys }] }) });
});
after(async () => {
  if (process.env.DUMP_STDERR) console.error(srv?.stderr());
  await srv?.stop();
});

const REQUIRED = {
  parley_connections: ['gauge', []],
  parley_connections_admitted_total: ['counter', []],
  parley_connections_closed_total: ['counter', ['code']],
  parley_upgrades_refused_total: ['counter', ['status']],
  parley_frames_received_total: ['counter', ['type']],
  parley_frames_sent_total: ['counter', ['type']],
  parley_errors_sent_total: ['counter', ['code']],
  parley_deliveries_total: ['counter', []],
  parley_subscriptions: ['gauge', []],
  parley_rest_requests_total: ['counter', ['route', 'status']],
  parley_draining: ['gauge', []],
};

// Sum of the samples of `name` whose labels include `labels`.
function sum(m, name, labels = {}) {
  return m.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)))
    .reduce((a, s) => a + s.value, 0);
}

test('format: text 0.0.4, every line parses, every family typed, required families and labels, no app label', async () => {
  // Make sure the labelled families have samples.
  await request(srv, 'GET', '/v1/usage');
  const c = await RawClient.open(srv.ws, { key: PK });
  await c.request({ type: 'subscribe', channel: 'fmt' });
  await c.request({ type: 'bogus' });
  await c.close();
  const m = await scrape(srv);
  assert.equal(m.response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const text = m.response.body;
  assert.ok(text.endsWith('\n'), 'the exposition ends with a line feed');
  // HELP/TYPE lines are well formed; TYPE values are known.
  for (const line of text.split('\n').filter((l) => l.startsWith('#'))) {
    assert.match(line, /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/, line);
  }
  // Every sample belongs to a typed family (histogram parts to their base name), and no family is
  // typed twice.
  const typeLines = text.split('\n').filter((l) => l.startsWith('# TYPE '));
  assert.equal(new Set(typeLines.map((l) => l.split(' ')[2])).size, typeLines.length, 'duplicate TYPE lines');
  for (const s of m.samples) {
    const base = s.name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(m.types[s.name] || m.types[base], `sample ${s.name} has no TYPE`);
    assert.ok(Number.isFinite(s.value) || s.value === Infinity, `${s.name} value ${s.value}`);
    assert.equal('app' in s.labels, false, `per-app metrics are off by default: ${s.name}`);
  }
  for (const [name, [type, labels]] of Object.entries(REQUIRED)) {
    assert.equal(m.types[name], type, `${name} must be a ${type}`);
    const samples = m.samples.filter((s) => s.name === name);
    assert.ok(samples.length > 0, `${name} has no sample`);
    for (const s of samples) assert.deepEqual(Object.keys(s.labels).sort(), [...labels].sort(), `${name} labels`);
  }
  // Counters are never negative; the draining gauge is 0 now.
  for (const s of m.samples) if (m.types[s.name] === 'counter') assert.ok(s.value >= 0, s.name);
  assert.equal(metricValue(m, 'parley_draining'), 0);
  // Histograms: cumulative buckets, +Inf = _count.
  for (const [name, type] of Object.entries(m.types)) {
    if (type !== 'histogram') continue;
    const buckets = m.samples.filter((s) => s.name === `${name}_bucket`);
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(les[i] > les[i - 1], `${name} buckets ordered`);
      assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} buckets cumulative`);
    }
    assert.equal(les.at(-1), Infinity);
    assert.equal(buckets.at(-1).value, metricValue(m, `${name}_count`));
  }
});

test('refused admissions are not admitted connections; refused upgrades are counted by status', async () => {
  const m0 = await scrape(srv);
  const bad = await RawClient.connect(srv.ws, { key: 'pk_live_nope' });
  assert.equal((await bad.closedWith()).code, 4001);
  assert.equal((await request(srv, 'GET', '/v1')).status, 426);
  assert.equal((await rawHttp(srv, requestText('GET', '/v2', srv, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' }))).status, 404);
  assert.equal((await rawHttp(srv, requestText('POST', '/v1', srv, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' }))).status, 405);
  const m1 = await scrape(srv);
  const d = (name, labels) => sum(m1, name, labels) - sum(m0, name, labels);
  assert.equal(d('parley_connections_admitted_total'), 0);
  assert.equal(d('parley_connections'), 0);
  assert.equal(d('parley_frames_sent_total', { type: 'welcome' }), 0);
  assert.equal(d('parley_upgrades_refused_total', { status: '426' }), 1);
  assert.equal(d('parley_upgrades_refused_total', { status: '404' }), 1);
  assert.equal(d('parley_upgrades_refused_total', { status: '405' }), 1);
});

test('a TCP drop (idle timeout) counts as code="none"', async (t) => {
  const s = await startParleyd({ config: controlConfig({ server: { idle_timeout: 1, ping_interval: 30 }, apps: [{ id: 'idle', keys }] }) });
  t.after(() => s.stop());
  const before = metricValue(await scrape(s), 'parley_connections_closed_total', { code: 'none' }) ?? 0;
  const c = await RawClient.open(s.ws, { key: PK });
  const closed = await c.closedWith(10000);
  assert.equal(closed.code, 1006, 'dropped without a close frame');
  const m = await until(async () => { const x = await scrape(s); return metricValue(x, 'parley_connections') === 0 && x; }, 5000, 50, 'gauge 0');
  assert.equal(metricValue(m, 'parley_connections_closed_total', { code: 'none' }) - before, 1);
});

test('draining: parley_draining 1, /readyz 503 draining, /healthz and /metrics still answer', async (t) => {
  const s = await startParleyd({ config: controlConfig({ server: { drain_window: 3 }, apps: [{ id: 'drain', keys }] }) });
  t.after(() => s.stop());
  const c = await RawClient.open(s.ws, { key: PK });
  s.proc.kill('SIGTERM');
  await c.next('going_away');
  const m = await scrape(s);
  assert.equal(metricValue(m, 'parley_draining'), 1);
  const r = await request(s, 'GET', '/readyz');
  assert.deepEqual({ status: r.status, json: r.json }, { status: 503, json: { error: 'not_ready', message: 'draining' } });
  const h = await request(s, 'GET', '/healthz');
  assert.deepEqual({ status: h.status, json: h.json }, { status: 200, json: { status: 'ok' } });
  assert.equal(metricValue(m, 'parley_frames_sent_total', { type: 'going_away' }), 1);
  await c.closedWith(10000);
  await s.exited;
});

test('counters and gauges follow the traffic exactly', async () => {
  const m0 = await scrape(srv);
  const v = (m, name, labels) => sum(m, name, labels);
  const a = await RawClient.open(srv.ws, { key: PK });
  const b = await RawClient.open(srv.ws, { token: mintToken({ kid: SK_ID, secret: SK, claims: { sub: 'metrics-b' } }) });
  const m1 = await scrape(srv);
  assert.equal(v(m1, 'parley_connections') - v(m0, 'parley_connections'), 2);
  assert.equal(v(m1, 'parley_connections_admitted_total') - v(m0, 'parley_connections_admitted_total'), 2);
  assert.equal(v(m1, 'parley_frames_sent_total', { type: 'welcome' }) - v(m0, 'parley_frames_sent_total', { type: 'welcome' }), 2);

  // Subscriptions: 2 exact + 1 pattern; acks; presence: a's snapshot, b's snapshot, a's joined delta.
  assert.equal((await a.request({ type: 'subscribe', channel: 'm' })).type, 'ack');
  assert.equal((await b.request({ type: 'subscribe', channel: 'm' })).type, 'ack');
  assert.equal((await b.request({ type: 'subscribe', channel: 'other/*' })).type, 'ack');
  await a.next((f) => f.type === 'presence' && f.joined.length === 1);
  // Publish (1 delivery to a), send (1 delivery to a), an error, a ping.
  assert.equal((await b.request({ type: 'publish', channel: 'm', data: 1 })).type, 'ack');
  assert.equal((await b.request({ type: 'send', to: a.peerId, data: 2 })).type, 'ack');
  assert.equal((await a.request({ type: 'nope' })).code, 'unknown_type');
  assert.equal((await a.request({ type: 'publish', channel: '_system/x', data: 1 })).code, 'channel_reserved');
  a.send({ type: 'ping' });
  await a.next('pong');
  await a.next('message');
  await a.next('direct');
  const m2 = await scrape(srv);
  const d = (name, labels) => v(m2, name, labels) - v(m1, name, labels);
  assert.equal(d('parley_subscriptions'), 3);
  assert.equal(d('parley_frames_received_total', { type: 'subscribe' }), 3);
  // The valid publish is a "publish"; the unknown type and the refused publish are counted once
  // each, under their type or under a catch-all label (the spec leaves that open).
  assert.ok(d('parley_frames_received_total', { type: 'publish' }) >= 1);
  const others = d('parley_frames_received_total') - d('parley_frames_received_total', { type: 'subscribe' })
    - d('parley_frames_received_total', { type: 'send' }) - d('parley_frames_received_total', { type: 'ping' });
  assert.equal(others, 3, 'publish + refused publish + unknown type');
  assert.equal(d('parley_frames_received_total', { type: 'send' }), 1);
  assert.equal(d('parley_frames_received_total', { type: 'ping' }), 1);
  assert.equal(d('parley_frames_received_total'), 8);
  assert.equal(d('parley_frames_sent_total', { type: 'ack' }), 5);
  assert.equal(d('parley_frames_sent_total', { type: 'presence' }), 3);
  assert.equal(d('parley_frames_sent_total', { type: 'message' }), 1);
  assert.equal(d('parley_frames_sent_total', { type: 'direct' }), 1);
  assert.equal(d('parley_frames_sent_total', { type: 'error' }), 2);
  assert.equal(d('parley_frames_sent_total', { type: 'pong' }), 1);
  assert.equal(d('parley_errors_sent_total', { code: 'unknown_type' }), 1);
  assert.equal(d('parley_errors_sent_total', { code: 'channel_reserved' }), 1);
  assert.equal(d('parley_errors_sent_total'), 2);
  assert.equal(d('parley_deliveries_total'), 2);
  assert.equal(d('parley_connections'), 0);

  // A REST publish to m reaches a and b's … only a and b (exact) → 2 deliveries; REST counters.
  const rest = restClient(srv, { id: SK_ID, secret: SK });
  assert.equal((await rest.post('/v1/channels/m/publish', { data: 3 })).json.recipients, 2);
  assert.equal((await request(srv, 'GET', '/v1/usage')).status, 401);
  assert.equal((await rest.post('/v1/tokens', {})).status, 400);
  await a.next('message');
  await b.next('message');
  const m3 = await scrape(srv);
  const e = (name, labels) => v(m3, name, labels) - v(m2, name, labels);
  assert.equal(e('parley_deliveries_total'), 2);
  assert.equal(e('parley_frames_sent_total', { type: 'message' }), 2);
  assert.equal(e('parley_rest_requests_total'), 3);
  assert.equal(e('parley_rest_requests_total', { status: '200' }), 1);
  assert.equal(e('parley_rest_requests_total', { status: '401' }), 1);
  assert.equal(e('parley_rest_requests_total', { status: '400' }), 1);
  // The three calls hit three routes: each route label moved once.
  const routes = new Set(m3.samples.filter((s) => s.name === 'parley_rest_requests_total' && s.value > (metricValue(m2, s.name, s.labels) ?? 0)).map((s) => s.labels.route));
  assert.equal(routes.size, 3, `routes ${[...routes]}`);

  // Closes: a by the client (1000), b by a REST kick (4020).
  await a.close(1000);
  assert.deepEqual((await rest.del('/v1/peers/metrics-b')).json, { peerId: 'metrics-b', closed: 1 });
  await b.closedWith();
  const m4 = await until(async () => { const x = await scrape(srv); return v(x, 'parley_connections') === v(m0, 'parley_connections') && x; }, 5000, 50, 'connections back to the start');
  const f = (name, labels) => v(m4, name, labels) - v(m3, name, labels);
  assert.equal(f('parley_connections_closed_total', { code: '1000' }), 1);
  assert.equal(f('parley_connections_closed_total', { code: '4020' }), 1);
  assert.equal(f('parley_subscriptions'), -3);
});
