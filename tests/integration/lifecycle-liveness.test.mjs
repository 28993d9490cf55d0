// PROTOCOL.md §13.2: protocol pings after outbound silence (ping_interval = 1 s here) and the idle
// timeout (idle_timeout = 2 s here), which drops the TCP connection without a close frame.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { metricValue, scrape } from '../lib/promtext.mjs';
import { RawWs, OP, pingFrame } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';

let srv;
const opened = [];
before(async () => {
  srv = await startParleyd({ config: buildConfig({ server: { ping_interval: 1, idle_timeout: 2, connect_burst_per_ip: 1000 } }) });
});
after(async () => {
  for (const c of opened) c.destroy();
  await srv?.stop();
});

async function open(opts = {}) {
  const c = await RawWs.open(srv, { key: defaultKeys.pk, ...opts });
  c.welcomedAt = Date.now();
  opened.push(c);
  return c;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a silent client receives a protocol ping with an empty payload about ping_interval after the welcome', async () => {
  const c = await open({ autoPong: true });
  const ping = await c.nextFrame((f) => f.opcode !== OP.pong, 3000);
  const after = Date.now() - c.welcomedAt;
  assert.equal(ping.opcode, OP.ping, `expected a protocol ping, got opcode ${ping.opcode}`);
  assert.equal(ping.fin, true);
  assert.equal(ping.payload.length, 0, 'empty payload');
  assert.ok(after >= 700, `ping came ${after} ms after the welcome, before ping_interval`);
  // It keeps pinging while the client stays silent (apart from its pongs).
  const second = await c.nextFrame((f) => f.opcode === OP.ping, 3000);
  assert.equal(second.payload.length, 0);
});

test('a client that sends nothing is dropped after idle_timeout without a close frame', async () => {
  const observer = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await observer.request({ type: 'subscribe', channel: 'idle-room' })).type, 'ack');
  await observer.next('presence');
  const m0 = await scrape(srv);

  // Its last frame is the subscribe; from then on it sends nothing and answers no ping.
  const c = await open();
  assert.equal((await c.request({ type: 'subscribe', channel: 'idle-room' })).type, 'ack');
  const lastSent = Date.now();
  const joined = await observer.next('presence');
  assert.deepEqual(joined.joined, [{ peerId: c.peerId }]);

  const end = await c.end(8000);
  const idleFor = end.at - lastSent;
  assert.ok(idleFor >= 1500, `dropped after ${idleFor} ms of silence, before idle_timeout`);
  assert.ok(idleFor <= 6000, `dropped only after ${idleFor} ms`);
  assert.equal(c.closeFrame, null, 'no close frame');
  assert.ok(c.all.some((f) => f.opcode === OP.ping), 'it was pinged before being dropped');

  // Same effects as any close: the observer sees it leave.
  const left = await observer.next('presence', 5000);
  assert.deepEqual(left, { type: 'presence', channel: 'idle-room', joined: [], left: [{ peerId: c.peerId }] });

  // Counted as a TCP drop.
  let m1;
  for (let i = 0; i < 30; i++) {
    m1 = await scrape(srv);
    if ((metricValue(m1, 'parley_connections_closed_total', { code: 'none' }) ?? 0) > (metricValue(m0, 'parley_connections_closed_total', { code: 'none' }) ?? 0)) break;
    await sleep(100);
  }
  assert.equal(metricValue(m1, 'parley_connections_closed_total', { code: 'none' }), (metricValue(m0, 'parley_connections_closed_total', { code: 'none' }) ?? 0) + 1);
  await observer.close();
});

test('clients that answer pings, send JSON pings or send protocol pings stay connected', async () => {
  const answerer = await open({ autoPong: true });
  const jsonPinger = await open();
  const wsPinger = await open();
  let stop = false;
  let jsonPongs = 0;
  const jsonLoop = (async () => {
    while (!stop) {
      jsonPinger.sendText({ type: 'ping' });
      await jsonPinger.nextJson('pong', 3000);
      jsonPongs++;
      await sleep(400);
    }
  })();
  const wsLoop = (async () => {
    while (!stop) {
      wsPinger.write(pingFrame('k'));
      await wsPinger.nextFrame((f) => f.opcode === OP.pong, 3000);
      await sleep(500);
    }
  })();
  await sleep(5500);
  stop = true;
  await Promise.all([jsonLoop, wsLoop]);
  for (const [name, c] of [['answerer', answerer], ['json pinger', jsonPinger], ['ws pinger', wsPinger]]) {
    assert.equal(c.ended, null, `${name} still connected`);
    assert.equal(c.closeFrame, null, `${name} not closed`);
  }
  assert.ok(answerer.all.filter((f) => f.opcode === OP.ping).length >= 2, 'the silent answerer was pinged repeatedly');
  assert.ok(jsonPongs >= 8);
  // The JSON pinger gets a pong every 400 ms, so the server never had 1 s of outbound silence.
  assert.deepEqual(jsonPinger.all.filter((f) => f.opcode === OP.ping), [], 'no protocol ping without 1 s of outbound silence');
  // And all of them still work.
  for (const c of [answerer, jsonPinger, wsPinger]) {
    assert.equal((await c.request({ type: 'subscribe', channel: 'still-here' })).type, 'ack');
  }
});
