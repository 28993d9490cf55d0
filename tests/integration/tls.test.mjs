// TLS termination by parleyd (PROTOCOL.md §0, §2, §18; docs/configuration.md tls_cert/tls_key): a
// throwaway self-signed certificate made with openssl; https /healthz, /metrics and REST; wss with
// the ws package trusting that CA; the official SDK over wss://localhost:PORT; TLS 1.2 and 1.3;
// plain HTTP on the TLS port gets no HTTP answer; a missing certificate file stops the start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import WebSocket from 'ws';
import { SignallingClient } from '@metered-ca/realtime';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';
import { parseMetrics } from '../lib/promtext.mjs';
import { selfSignedCert } from '../lib/tlscert.mjs';
import { controlConfig, request, restClient, waitEvent } from '../lib/control.mjs';

const PK = 'pk_live_tls000000000000000000000000000000';
const SK_ID = 'sk_id_tls00000000000000000000000000000001';
const SK = 'sk_secret_tls000000000000000000000000000001';

let cert;
let srv;
let https; // https://localhost:PORT
let wss; // wss://localhost:PORT
const clients = [];

before(async () => {
  cert = selfSignedCert();
  srv = await startParleyd({
    config: controlConfig({
      server: { tls_cert: cert.certPath, tls_key: cert.keyPath },
      apps: [{
        id: 'tls',
        keys: [
          { type: 'publishable', id: PK, channels: ['**'], actions: ['subscribe', 'publish', 'presence', 'send'] },
          { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
        ],
      }],
    }),
  });
  https = `https://localhost:${srv.port}`;
  wss = `wss://localhost:${srv.port}`;
});
after(async () => {
  await Promise.all(clients.map((c) => (c.close ? c.close() : null)?.catch?.(() => {})));
  await srv?.stop();
  cert?.cleanup();
});

// A RawClient over wss trusting the test CA.
async function openWss(query, { origin = wss, ca = cert.ca } = {}) {
  const ws = new WebSocket(`${origin}/v1?${query}`, { ca });
  const c = new RawClient(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  c.welcome = await c.next('welcome');
  c.peerId = c.welcome.peerId;
  clients.push(c);
  return c;
}

test('https: /healthz, /readyz and /metrics over TLS with the test CA (localhost and 127.0.0.1)', async () => {
  for (const origin of [https, `https://127.0.0.1:${srv.port}`]) {
    const h = await request(origin, 'GET', '/healthz', { ca: cert.ca });
    assert.deepEqual({ status: h.status, json: h.json }, { status: 200, json: { status: 'ok' } });
    const r = await request(origin, 'GET', '/readyz', { ca: cert.ca });
    assert.deepEqual({ status: r.status, json: r.json }, { status: 200, json: { status: 'ready' } });
  }
  const m = await request(https, 'GET', '/metrics', { ca: cert.ca });
  assert.equal(m.status, 200);
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.ok(parseMetrics(m.body).samples.some((s) => s.name === 'parley_connections'));
  // Without the CA the certificate is not trusted: it really is TLS with our certificate.
  await assert.rejects(request(https, 'GET', '/healthz'), /self[- ]signed|certificate/i);
});

test('REST over https', async () => {
  const rest = restClient(https, { id: SK_ID, secret: SK, ca: cert.ca });
  const t = await rest.post('/v1/tokens', { peerId: 'tls-peer' });
  assert.equal(t.status, 200, t.body);
  assert.equal(typeof t.json.token, 'string');
  const u = await rest.get('/v1/usage');
  assert.equal(u.json.appId, 'tls');
  assert.equal((await request(https, 'GET', '/v1/usage', { ca: cert.ca })).status, 401);
});

test('wss with the ws package: publishable key and JWT, publish round trip', async () => {
  const a = await openWss(`key=${PK}`);
  const token = mintToken({ kid: SK_ID, secret: SK, claims: { sub: 'wss-bob' } });
  const b = await openWss(`token=${encodeURIComponent(token)}`);
  assert.equal(b.peerId, 'wss-bob');
  assert.equal((await a.request({ type: 'subscribe', channel: 'secure' })).type, 'ack');
  assert.equal((await b.request({ type: 'publish', channel: 'secure', data: { over: 'tls' } })).type, 'ack');
  assert.deepEqual(await a.next('message'), { type: 'message', channel: 'secure', from: 'wss-bob', data: { over: 'tls' } });
  // Admission failures still arrive as close codes over TLS.
  const ws = new WebSocket(`${wss}/v1?key=pk_live_nope`, { ca: cert.ca });
  const bad = new RawClient(ws);
  assert.deepEqual(await bad.closedWith(), { code: 4001, reason: 'invalid_key' });
});

test('TLS 1.2 and TLS 1.3 are both accepted', async () => {
  for (const v of ['TLSv1.2', 'TLSv1.3']) {
    const proto = await new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', ca: cert.ca, minVersion: v, maxVersion: v }, () => {
        const p = s.getProtocol();
        s.end();
        resolve(p);
      });
      s.on('error', reject);
    });
    assert.equal(proto, v);
  }
});

test('the TLS port speaks TLS only: plain HTTP gets no HTTP response', async () => {
  await assert.rejects(rawHttp(srv, requestText('GET', '/healthz', srv, { Connection: 'close' }), { timeoutMs: 5000 }));
  // The server is unharmed.
  assert.equal((await request(https, 'GET', '/healthz', { ca: cert.ca })).status, 200);
});

test('the official SDK over wss://localhost:PORT (apiKey and tokenProvider)', async () => {
  const factory = (url) => new WebSocket(url, { ca: cert.ca });
  const a = new SignallingClient({ url: wss, apiKey: PK, webSocketFactory: factory, reconnect: false });
  const b = new SignallingClient({
    url: wss,
    webSocketFactory: factory,
    reconnect: false,
    tokenProvider: async () => mintToken({ kid: SK_ID, secret: SK, claims: { sub: 'sdk-tls' } }),
  });
  clients.push(a, b);
  const aConnected = waitEvent(a, 'connected');
  await a.connect();
  const aInfo = await aConnected;
  assert.equal(aInfo.expiresAt, null);
  const bConnected = waitEvent(b, 'connected');
  await b.connect();
  assert.equal((await bConnected).peerId, 'sdk-tls');
  await a.subscribe('tls-room');
  const got = waitEvent(a, 'message');
  await b.publish('tls-room', { hello: 'wss' });
  assert.deepEqual(await got, { channel: 'tls-room', from: 'sdk-tls', data: { hello: 'wss' } });
  const direct = waitEvent(b, 'direct');
  await a.send('sdk-tls', { type: 'rtc-ice', candidate: null });
  assert.deepEqual(await direct, { from: aInfo.peerId, data: { type: 'rtc-ice', candidate: null } });
  await a.close();
  await b.close();
});

// docs/configuration.md: invalid values stop parleyd at start with a message naming the option
// (exit code 2).
test('a missing certificate file stops parleyd at start with exit code 2, naming the option', async () => {
  const config = controlConfig({
    server: { tls_cert: `${cert.dir}/does-not-exist.pem`, tls_key: cert.keyPath },
    apps: [{ id: 'x', keys: [{ type: 'publishable', id: PK, channels: ['**'] }] }],
  });
  const err = await startParleyd({ config }).then((s) => { s.stop(); return null; }, (e) => e);
  assert.ok(err, 'parleyd started with a missing certificate file');
  assert.match(err.message, /exited \(2\)/, err.message);
  assert.match(err.message, /tls_cert/, err.message);
});
