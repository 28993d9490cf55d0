// The official @metered-ca/realtime SignallingClient with a tokenProvider against a real parleyd
// (PROTOCOL.md §0, §3.3, §12, §13.1, §17.5): a short-lived token is closed with 4002 about 250 ms
// before exp and the client reconnects with a fresh token by itself (and resubscribes); a bad token
// ends with 4001 and no retries, at the first connect and mid-session; a REST kick ends the client
// with 4020 and no retries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignallingClient } from '@metered-ca/realtime';
import { startParleyd } from '../lib/parleyd.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { scrape, metricValue } from '../lib/promtext.mjs';
import { controlConfig, restClient, waitEvent, recordEvents, nowSec, sleep, until, turnCredential } from '../lib/control.mjs';

const PK = 'pk_live_sdktokens000000000000000000000000';
const SK_ID = 'sk_id_sdktokens0000000000000000000000001';
const SK = 'sk_secret_sdktokens00000000000000000000001';

let srv;
let rest;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [{
        id: 'sdk',
        turn: { secret: 'sdk-turn-secret', urls: ['stun:127.0.0.1:3478', 'turn:127.0.0.1:3478?transport=udp'], ttl: 3600 },
        keys: [
          { type: 'publishable', id: PK, channels: ['**'], actions: ['subscribe', 'publish', 'presence', 'send'] },
          { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
        ],
      }],
    }),
  });
  rest = restClient(srv, { id: SK_ID, secret: SK });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const token = (sub, exp, secret = SK) => mintToken({ kid: SK_ID, secret, claims: { sub, exp } });

function sdkClient(opts) {
  const c = new SignallingClient({
    url: srv.ws,
    webSocketFactory: (url) => new WebSocket(url),
    reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
    ...opts,
  });
  clients.push(c);
  return c;
}

async function counters() {
  const m = await scrape(srv);
  return {
    admitted: metricValue(m, 'parley_connections_admitted_total') ?? 0,
    closed4020: metricValue(m, 'parley_connections_closed_total', { code: '4020' }) ?? 0,
  };
}

test('a short-lived token is closed with 4002 mid-session; the client reconnects with a fresh token by itself', async () => {
  const exps = [];
  let calls = 0;
  const client = sdkClient({
    tokenProvider: async () => {
      calls += 1;
      // First token: 3 s; the next ones: 10 min.
      const exp = nowSec() + (calls === 1 ? 3 : 600);
      exps.push(exp);
      return token('refresher', exp);
    },
  });
  const log = recordEvents(client, ['connected', 'disconnected']);
  await client.connect();
  assert.equal(client.state, 'connected');
  assert.equal(log[0].payload.expiresAt, exps[0]);
  assert.equal(log[0].payload.peerId, 'refresher');
  await client.subscribe('news');

  const back = waitEvent(client, 'connected', (e) => e.isReconnect, 10000);
  await back;
  const [first, disc, again] = log;
  assert.deepEqual(log.map((e) => e.name), ['connected', 'disconnected', 'connected']);
  assert.equal(first.payload.isReconnect, false);
  assert.deepEqual(disc.payload, { code: 4002, reason: 'token_expired', willReconnect: true });
  const deadline = exps[0] * 1000 - 250;
  assert.ok(disc.at >= deadline - 200, `4002 came ${deadline - disc.at} ms before exp×1000−250`);
  assert.ok(disc.at <= exps[0] * 1000 + 1000, `4002 came ${disc.at - exps[0] * 1000} ms after exp`);
  assert.equal(calls, 2, 'the tokenProvider is asked for a fresh token on the reconnect');
  assert.equal(again.payload.isReconnect, true);
  assert.equal(again.payload.peerId, 'refresher');
  assert.equal(again.payload.expiresAt, exps[1]);
  assert.equal(client.state, 'connected');

  // The client replayed its subscription: a REST publish reaches it.
  let got;
  const gotIt = waitEvent(client, 'message', (m) => m.channel === 'news', 10000).then((m) => { got = m; });
  await until(async () => {
    await rest.post('/v1/channels/news/publish', { data: { after: 'refresh' } });
    return got;
  }, 10000, 200, 'a message after the reconnect');
  await gotIt;
  assert.deepEqual(got, { channel: 'news', from: 'system', data: { after: 'refresh' } });
  await client.close();
});

test('a bad token at the first connect: 4001, connect() rejects, no retries', async () => {
  let calls = 0;
  const client = sdkClient({
    tokenProvider: async () => {
      calls += 1;
      return token('badfirst', nowSec() + 600, 'sk_secret_not_the_right_one_000000000000');
    },
  });
  const log = recordEvents(client, ['connected', 'disconnected']);
  const before = await counters();
  await assert.rejects(client.connect());
  await until(() => client.state === 'closed', 5000, 20, 'state closed');
  await sleep(2000);
  const afterC = await counters();
  assert.equal(calls, 1, 'no retry asks for another token');
  assert.equal(client.state, 'closed');
  assert.equal(afterC.admitted, before.admitted, 'nothing admitted');
  assert.ok(!log.some((e) => e.name === 'connected'));
  for (const d of log.filter((e) => e.name === 'disconnected')) {
    assert.equal(d.payload.code, 4001);
    assert.equal(d.payload.willReconnect, false);
  }
});

test('a bad token on the reconnect after 4002: 4001 ends the client, no further retries', async () => {
  let calls = 0;
  const client = sdkClient({
    tokenProvider: async () => {
      calls += 1;
      if (calls === 1) return token('badlater', nowSec() + 3);
      return token('badlater', nowSec() + 600, 'sk_secret_not_the_right_one_000000000000');
    },
  });
  const log = recordEvents(client, ['connected', 'disconnected']);
  const c0 = await counters();
  await client.connect();
  const final = await waitEvent(client, 'disconnected', (d) => d.code === 4001, 10000);
  assert.deepEqual(final, { code: 4001, reason: 'invalid_token: bad signature', willReconnect: false });
  await sleep(2000);
  const c1 = await counters();
  assert.deepEqual(log.map((e) => [e.name, e.payload.code]), [['connected', undefined], ['disconnected', 4002], ['disconnected', 4001]]);
  assert.equal(log[1].payload.willReconnect, true);
  assert.equal(client.state, 'closed');
  assert.equal(calls, 2, 'no token asked for after the 4001');
  assert.equal(c1.admitted - c0.admitted, 1, 'only the first connection was admitted');
});

test('the official client receives the injected TURN credentials (connected.iceServers), fresh on each reconnect', async () => {
  let calls = 0;
  const client = sdkClient({
    tokenProvider: async () => {
      calls += 1;
      return token('ice-user', nowSec() + (calls === 1 ? 3 : 600));
    },
  });
  const first = waitEvent(client, 'connected');
  first.catch(() => {});
  await client.connect();
  const a = await first;
  assert.equal(a.iceServers.length, 2);
  assert.deepEqual(a.iceServers[0], { urls: ['stun:127.0.0.1:3478'] });
  const turn = a.iceServers[1];
  assert.deepEqual(turn.urls, ['turn:127.0.0.1:3478?transport=udp']);
  assert.match(turn.username, /^\d+:ice-user$/);
  assert.equal(turn.credential, turnCredential('sdk-turn-secret', turn.username));
  // After the 4002 refresh the reconnect carries new credentials.
  const b = await waitEvent(client, 'connected', (e) => e.isReconnect, 10000);
  const turn2 = b.iceServers[1];
  assert.ok(Number(turn2.username.split(':')[0]) > Number(turn.username.split(':')[0]));
  assert.equal(turn2.credential, turnCredential('sdk-turn-secret', turn2.username));
  await client.close();
});

test('DELETE /v1/peers/:id ends the official client with 4020 admin_disconnect, no retries', async () => {
  let calls = 0;
  const client = sdkClient({
    tokenProvider: async () => {
      calls += 1;
      return token('kick-me', nowSec() + 600);
    },
  });
  const log = recordEvents(client, ['connected', 'disconnected']);
  await client.connect();
  const c0 = await counters();
  const disc = waitEvent(client, 'disconnected');
  const res = await rest.del('/v1/peers/kick-me');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { peerId: 'kick-me', closed: 1 });
  assert.deepEqual(await disc, { code: 4020, reason: 'admin_disconnect', willReconnect: false });
  await sleep(2000);
  const c1 = await counters();
  assert.equal(client.state, 'closed');
  assert.equal(calls, 1);
  assert.equal(c1.admitted, c0.admitted, 'the kicked client did not come back');
  assert.equal(c1.closed4020 - c0.closed4020, 1);
  assert.deepEqual(log.map((e) => e.name), ['connected', 'disconnected']);
});

test('a publishable-key official client kicked by its random peerId: 4020, no retries', async () => {
  const client = sdkClient({ apiKey: PK });
  const connected = waitEvent(client, 'connected');
  await client.connect();
  const { peerId } = await connected;
  const c0 = await counters();
  const disc = waitEvent(client, 'disconnected');
  const res = await rest.del(`/v1/peers/${encodeURIComponent(peerId)}`);
  assert.deepEqual({ status: res.status, json: res.json }, { status: 200, json: { peerId, closed: 1 } });
  assert.deepEqual(await disc, { code: 4020, reason: 'admin_disconnect', willReconnect: false });
  await sleep(2000);
  assert.equal(client.state, 'closed');
  assert.equal((await counters()).admitted, c0.admitted);
});
