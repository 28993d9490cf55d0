// The official @metered-ca/realtime SignallingClient against a real parleyd (PROTOCOL.md section 0):
// pub/sub, presence, directs, automatic reconnect and resubscribe after a restart, going_away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignallingClient } from '@metered-ca/realtime';
import { startParleyd, defaultConfig, defaultKeys } from '../lib/parleyd.mjs';

function client(srv, extra = {}) {
  return new SignallingClient({
    url: srv.ws,
    apiKey: defaultKeys.pk,
    webSocketFactory: (url) => new WebSocket(url),
    reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    ...extra,
  });
}

// Resolves with the first event `name` whose payload satisfies `pred`.
function waitFor(emitter, name, pred = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(name, h);
      reject(new Error(`timed out waiting for ${name}`));
    }, timeoutMs);
    const h = (e) => {
      if (pred(e)) {
        clearTimeout(t);
        emitter.off(name, h);
        resolve(e);
      }
    };
    emitter.on(name, h);
  });
}

test('two official clients: subscribe, publish, presence, directs', async (t) => {
  const srv = await startParleyd();
  t.after(() => srv.stop());
  const a = client(srv);
  const b = client(srv);
  t.after(() => Promise.all([a.close(), b.close()]));
  const aConnected = waitFor(a, 'connected');
  await a.connect();
  const aInfo = await aConnected;
  const bConnected = waitFor(b, 'connected');
  await b.connect();
  const bInfo = await bConnected;
  assert.notEqual(aInfo.peerId, bInfo.peerId);
  assert.equal(aInfo.expiresAt, null);
  assert.equal(aInfo.maxMessageSize, 65536);

  const aSnapshot = waitFor(a, 'presence', (p) => p.channel === 'lobby');
  await a.subscribe('lobby');
  assert.deepEqual(await aSnapshot, { channel: 'lobby', joined: [], left: [] });

  const aSeesB = waitFor(a, 'presence', (p) => p.joined.some((j) => j.peerId === bInfo.peerId));
  const bSnapshot = waitFor(b, 'presence', (p) => p.channel === 'lobby');
  await b.subscribe('lobby');
  await aSeesB;
  assert.deepEqual((await bSnapshot).joined, [{ peerId: aInfo.peerId }]);

  const got = waitFor(b, 'message');
  await a.publish('lobby', { text: 'hello', n: [1, 2, 3] });
  assert.deepEqual(await got, { channel: 'lobby', from: aInfo.peerId, data: { text: 'hello', n: [1, 2, 3] } });

  const direct = waitFor(a, 'direct');
  await b.send(aInfo.peerId, { type: 'rtc-ice', candidate: null });
  assert.deepEqual(await direct, { from: bInfo.peerId, data: { type: 'rtc-ice', candidate: null } });

  await assert.rejects(b.send('no-such-peer', 1), (e) => e.name === 'peer_not_found');
  await assert.rejects(b.subscribe('_system/x'), (e) => e.name === 'channel_reserved');

  const left = waitFor(a, 'presence', (p) => p.left.some((l) => l.peerId === bInfo.peerId));
  await b.unsubscribe('lobby');
  await left;
});

test('parleyd restarted: official clients reconnect and resubscribe by themselves', async (t) => {
  let srv = await startParleyd();
  const port = srv.port;
  const a = client(srv);
  const b = client(srv);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await srv.stop();
  });
  await a.connect();
  await b.connect();
  await a.subscribe('news');
  await b.subscribe('news');

  const aBack = waitFor(a, 'connected', (e) => e.isReconnect);
  const bBack = waitFor(b, 'connected', (e) => e.isReconnect);
  await srv.kill('SIGKILL');
  srv = await startParleyd({ config: defaultConfig({ server: '' }).replace('127.0.0.1:0', `127.0.0.1:${port}`) });
  const [aInfo] = await Promise.all([aBack, bBack]);

  // The replayed subscribe needs the ack and snapshot round trip: publish until B gets one.
  let received;
  const gotIt = waitFor(b, 'message', (m) => m.channel === 'news').then((m) => { received = m; });
  for (let i = 0; i < 50 && !received; i++) {
    await a.publish('news', { i }).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
  }
  await gotIt;
  assert.equal(received.from, aInfo.peerId);
  assert.equal(a.state, 'connected');
  assert.equal(b.state, 'connected');
});

test('SIGTERM: the official client sees going-away, then reconnects elsewhere', async (t) => {
  const srv = await startParleyd({ config: defaultConfig({ server: 'going_away_retry_ms = 1500' }) });
  const a = client(srv, { reconnect: false });
  t.after(() => a.close());
  await a.connect();
  const goingAway = waitFor(a, 'going-away');
  const disconnected = waitFor(a, 'disconnected');
  srv.kill('SIGTERM');
  assert.deepEqual(await goingAway, { retryAfterMs: 1500 });
  const d = await disconnected;
  assert.equal(d.code, 1001);
  const { code } = await srv.exited;
  assert.equal(code, 0);
});
