// The per-source-IP connect limit (PROTOCOL.md §2 step 4, §14.3, §18): connect_burst_per_ip = 3,
// connect_rate_per_ip = 0.01. The 4th upgrade gets HTTP 429 rate_limited with Retry-After; only
// upgrade requests reaching step 4 are charged; with trusted_proxies the limit applies per
// X-Forwarded-For address (the rightmost one that is not a trusted proxy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';
import { RawClient } from '../lib/client.mjs';
import { scrape, metricValue } from '../lib/promtext.mjs';
import { controlConfig, request } from '../lib/control.mjs';

const PK = defaultKeys.pk;

function config(server = {}) {
  return controlConfig({
    server: { connect_burst_per_ip: 3, connect_rate_per_ip: 0.01, ...server },
    apps: [{ id: 'ip', keys: [{ type: 'publishable', id: PK, channels: ['**'] }] }],
  });
}

async function start(t, server) {
  const srv = await startParleyd({ config: config(server) });
  t.after(() => srv.stop());
  return srv;
}

// One upgrade request, made like a normal client: on 101 it waits for the welcome or the close
// and then closes politely; on a refusal it resolves to the HTTP response.
function upgrade(srv, { path = `/v1?key=${PK}`, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.ws}${path}`, { headers: { ...headers } });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body, json });
        req.destroy();
      });
    });
    ws.once('open', () => {
      // Wait for the welcome (or the admission close), then close.
      const done = () => { resolve({ status: 101 }); if (ws.readyState === WebSocket.OPEN) ws.close(1000); };
      ws.once('message', done);
      ws.once('close', done);
    });
    ws.once('error', (e) => { if (ws.readyState !== WebSocket.CLOSED) reject(e); });
  });
}

// A raw upgrade request for the refusals before step 4 (no 101 expected).
function rawUpgrade(srv, { path = `/v1?key=${PK}`, headers = {} } = {}) {
  return rawHttp(srv, requestText('GET', path, srv, {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  }));
}

function assert429(res) {
  assert.equal(res.status, 429, `expected 429, got ${res.status} ${res.body}`);
  assert.equal(res.json?.error, 'rate_limited', res.body);
  assert.equal(typeof res.json.message, 'string');
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.match(res.headers['retry-after'] ?? '', /^\d+$/, `Retry-After: ${res.headers['retry-after']}`);
  assert.ok(Number(res.headers['retry-after']) >= 1);
}

test('the 4th upgrade from one IP gets 429 with Retry-After; refused upgrades are counted in metrics', async (t) => {
  const srv = await start(t);
  const before = metricValue(await scrape(srv), 'parley_upgrades_refused_total', { status: '429' }) ?? 0;
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv)).status, 101, `upgrade ${i + 1}`);
  assert429(await upgrade(srv));
  assert429(await upgrade(srv));
  // The official-style client sees the refusal as a failed handshake.
  await assert.rejects(RawClient.connect(srv.ws, { key: PK }), (e) => e.status === 429);
  const after = metricValue(await scrape(srv), 'parley_upgrades_refused_total', { status: '429' });
  assert.equal(after - before, 3);
  // REST and operational endpoints are not charged and not refused.
  assert.equal((await request(srv, 'GET', '/healthz')).status, 200);
  assert.equal((await request(srv, 'GET', '/v1/usage')).status, 401);
});

test('admission failures are charged too: the credential is not examined before the upgrade', async (t) => {
  const srv = await start(t);
  for (const path of ['/v1', '/v1?key=pk_live_nope', `/v1?key=${PK}&key=${PK}`]) {
    assert.equal((await upgrade(srv, { path })).status, 101, path);
  }
  assert429(await upgrade(srv));
});

test('requests refused before step 4 are not charged', async (t) => {
  const srv = await start(t);
  for (let i = 0; i < 3; i++) {
    // 405: not GET.
    const post = await rawHttp(srv, requestText('POST', '/v1', srv, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13' }));
    assert.equal(post.status, 405);
    // 426: no upgrade requested.
    assert.equal((await request(srv, 'GET', '/v1')).status, 426);
    // 426: wrong version.
    assert.equal((await rawUpgrade(srv, { headers: { 'Sec-WebSocket-Version': '8' } })).status, 426);
    // 404: upgrade to another path.
    assert.equal((await rawUpgrade(srv, { path: '/v2' })).status, 404);
  }
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv)).status, 101, `upgrade ${i + 1}`);
  assert429(await upgrade(srv));
});

test('without trusted proxies, X-Forwarded-For is ignored', async (t) => {
  const srv = await start(t);
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv, { headers: { 'X-Forwarded-For': `10.1.0.${i}` } })).status, 101);
  assert429(await upgrade(srv, { headers: { 'X-Forwarded-For': '10.1.0.99' } }));
  assert429(await upgrade(srv));
});

test('with trusted_proxies = ["127.0.0.1"] the limit applies per X-Forwarded-For address', async (t) => {
  const srv = await start(t, { trusted_proxies: ['127.0.0.1'] });
  const xff = (v) => ({ headers: { 'X-Forwarded-For': v } });
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv, xff('10.0.0.1'))).status, 101);
  assert429(await upgrade(srv, xff('10.0.0.1')));
  // Another client address has its own bucket.
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv, xff('10.0.0.2'))).status, 101);
  assert429(await upgrade(srv, xff('10.0.0.2')));
  // The rightmost address that is not a trusted proxy counts: here 10.0.0.1 again (exhausted) …
  assert429(await upgrade(srv, xff('10.0.0.3, 10.0.0.1')));
  assert429(await upgrade(srv, xff('10.0.0.3, 10.0.0.1, 127.0.0.1')));
  // … and here 10.0.0.4, a fresh one, although a spoofed 10.0.0.1 sits to its left.
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv, xff('10.0.0.1, 10.0.0.4'))).status, 101);
  assert429(await upgrade(srv, xff('10.0.0.4')));
  // Without the header the proxy's own address is the source, with its own bucket.
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv)).status, 101);
  assert429(await upgrade(srv));
  // Admitted connections through the proxy work normally.
  const c = await RawClient.open(srv.ws, { key: PK, headers: { 'X-Forwarded-For': '10.0.0.6' } });
  assert.equal(c.welcome.type, 'welcome');
  await c.close();
});

test('with trusted proxies, repeated X-Forwarded-For header lines form one list (RFC 9110 §5.3)', async (t) => {
  const srv = await start(t, { trusted_proxies: ['127.0.0.1'] });
  const xff = (v) => ({ headers: { 'X-Forwarded-For': v } });
  // Exhaust 10.0.0.1.
  for (let i = 0; i < 3; i++) assert.equal((await upgrade(srv, xff('10.0.0.1'))).status, 101);
  assert429(await upgrade(srv, xff('10.0.0.1')));
  // A client-supplied line followed by the proxy's appended line: the rightmost address, 10.0.0.5,
  // is the source (reading only the first line would let clients pick their address).
  assert.equal((await upgrade(srv, xff(['10.0.0.1', '10.0.0.5']))).status, 101);
  assert.equal((await upgrade(srv, xff(['10.0.0.5', '10.0.0.1']))).status, 429);
});

test('clients that drop the TCP connection right after the 101 leave the server serving', async (t) => {
  const srv = await start(t, { connect_burst_per_ip: 100 });
  // rawHttp closes the socket as soon as it has read the 101 head.
  for (let i = 0; i < 20; i++) assert.equal((await rawUpgrade(srv)).status, 101, `upgrade ${i + 1}`);
  assert.equal((await request(srv, 'GET', '/healthz')).status, 200);
  const c = await RawClient.open(srv.ws, { key: PK });
  assert.equal(c.welcome.type, 'welcome');
  await c.close();
  assert.equal(srv.proc.exitCode, null, `parleyd exited:\n${srv.stderr().slice(0, 2000)}`);
});
