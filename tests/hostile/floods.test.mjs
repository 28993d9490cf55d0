// Hostile clients that send too much: floods of subscribe/unsubscribe, protocol and JSON ping
// floods from clients that never read, and a connection flood from one address. parleyd must
// answer or refuse each as the protocol says (acks/errors, 4011, 1008, HTTP 429) with its memory
// bounded, while a well-behaved pair keeps exchanging messages without error or loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { RawWs, OP, textFrame, pingFrame } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';
import { rawHttp } from '../lib/rawhttp.mjs';
import { handshakeRequest } from '../lib/rawws.mjs';
import { startHostile, startPair, watchRss, metric, connectionsSettle, strictKey, sleep } from '../lib/hostile.mjs';

// Waits until `pred()` holds, polling every 50 ms; fails after `ms`.
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('subscribe/unsubscribe floods are all answered, over several shards, with memory bounded', async (t) => {
  const srv = await startHostile({ server: { threads: 4 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  const flooders = [];
  const perClient = 3000;
  for (let i = 0; i < 16; i++) {
    const c = await RawWs.open(srv, { key: defaultKeys.pk });
    t.after(() => c.destroy());
    flooders.push(c);
  }
  // Each flooder subscribes and unsubscribes exact channels (shared by all: presence churn on
  // every shard), pattern subscriptions (pattern interest toggled on every home shard) and the
  // pair's own channel, all written at once in large batches.
  await Promise.all(flooders.map(async (c, ci) => {
    const frames = [];
    for (let n = 0; n < perClient; n++) {
      const k = n % 6;
      const channel = k < 2 ? `churn-${n % 40}` : k < 4 ? `pat-${n % 7}/*` : 'pair';
      const type = n % 2 === 0 ? 'subscribe' : 'unsubscribe';
      frames.push(textFrame(JSON.stringify({ type, channel, requestId: `f${ci}-${n}`, includeSenderMetadata: n % 3 === 0 })));
    }
    for (let i = 0; i < frames.length; i += 500) c.write(Buffer.concat(frames.slice(i, i + 500)));
  }));
  // Every request gets exactly one answer: an ack, or channel_limit_exceeded.
  for (const c of flooders) {
    await until(() => c.all.filter((f) => f.json?.requestId).length >= perClient || c.ended, 120000, 'the flood answers');
    const answers = c.all.filter((f) => f.json?.requestId);
    assert.equal(answers.length, perClient, 'one answer per request');
    for (const a of answers) assert.ok(a.json.type === 'ack' || a.json.code === 'channel_limit_exceeded', JSON.stringify(a.json));
    assert.equal(c.closeFrame, null);
  }
  await pair.progress(10);
  for (const c of flooders) c.destroy();
  await connectionsSettle(srv, 2);
  const mem = rss.stop();
  t.diagnostic(`subscribe flood: 16 x ${perClient} frames; parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  assert.ok(mem.growthMb < 300, `parleyd RSS grew by ${mem.growthMb} MB`);
  // The pair's channel saw joins and leaves of the flooders; the pair itself is intact.
  await pair.check();
  // Nothing is left subscribed.
  assert.equal(await metric(srv, 'parley_subscriptions'), 0);
});

test('a subscribe flood beyond the rate limit closes 4011 and nothing else', async (t) => {
  const srv = await startHostile();
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const flooders = [];
  for (let i = 0; i < 8; i++) {
    const c = await RawWs.open(srv, { key: strictKey });
    t.after(() => c.destroy());
    const frames = [];
    for (let n = 0; n < 2000; n++) frames.push(textFrame(JSON.stringify({ type: n % 2 ? 'unsubscribe' : 'subscribe', channel: `s-${n % 5}` })));
    c.write(Buffer.concat(frames));
    flooders.push(c);
  }
  for (const c of flooders) assert.deepEqual(await c.closed(15000), { code: 4011, reason: 'rate_limited' });
  await pair.progress(10);
  await pair.check();
});

test('ping floods from clients that never read: pongs are bounded by the outbound limit', async (t) => {
  const srv = await startHostile({ server: { outbound_buffer_limit: 2 * 1024 * 1024 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  const kinds = {
    // 6 bytes on the wire each; every one asks for a pong frame.
    emptyPings: () => pingFrame(Buffer.alloc(0)),
    fullPings: () => pingFrame(Buffer.alloc(125, 0x70)),
    // JSON pings cost no rate-limit token and each is answered with a pong text frame.
    jsonPings: () => textFrame('{"type":"ping"}'),
  };
  const floods = [];
  for (const [name, make] of Object.entries(kinds)) {
    for (let i = 0; i < 4; i++) {
      const c = await RawWs.open(srv, { key: defaultKeys.pk });
      t.after(() => c.destroy());
      c.pause();  // never reads again
      const chunk = Buffer.concat(Array.from({ length: 8192 }, make));
      floods.push({ name, c, chunk, sent: 0 });
    }
  }
  // Each client writes up to ~60 MB of pings, until parleyd stops taking bytes (its socket
  // buffer is full: it is not reading any more) or the connection ends.
  await Promise.all(floods.map(async (f) => {
    const rounds = Math.ceil(60e6 / f.chunk.length);
    for (let i = 0; i < rounds && !f.c.socket.destroyed && !f.c.ended; i++) {
      const ok = f.c.socket.write(f.chunk);
      f.sent += 8192;
      if (!ok) {
        const drained = await Promise.race([new Promise((r) => f.c.socket.once('drain', () => r(true))), sleep(5000).then(() => false)]);
        if (!drained) break;
      }
    }
  }));
  await sleep(1000);
  await pair.progress(10);
  const mem = rss.stop();
  const detail = floods.map((f) => `${f.name}:${f.sent}`).join(' ');
  t.diagnostic(`ping floods (${detail}); parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  // At most 2 MiB of queued pongs per client (JSON pongs: the JSON-ping clients are closed 1008
  // when they reach it); protocol pongs are coalesced once the queue backs up, as RFC 6455
  // allows. Before that, each 2-byte pong held its own ~60-byte frame: ~80 MB per client.
  assert.ok(mem.growthMb < 150, `parleyd RSS grew by ${mem.growthMb} MB`);
  for (const f of floods) {
    f.c.resume();
    f.c.destroy();
  }
  await connectionsSettle(srv, 2, 30000);
  await pair.check();
});

test('a connection flood from one address gets 429 once its burst is spent; other addresses do not', async (t) => {
  // Connections arrive through a trusted proxy, so each X-Forwarded-For address is a client.
  const srv = await startHostile({
    server: { connect_burst_per_ip: 20, connect_rate_per_ip: 0.01, trusted_proxies: ['127.0.0.1'] },
  });
  t.after(() => srv.stop());
  const pair = await startPair(srv, { key: defaultKeys.pk });
  t.after(() => pair.abort());
  const upgrade = (xff) => rawHttp(srv, handshakeRequest({
    host: srv.host, port: srv.port, query: `key=${defaultKeys.pk}`, wsKey: 'dGhlIHNhbXBsZSBub25jZQ==',
    headers: { 'X-Forwarded-For': xff },
  }), { timeoutMs: 10000 });
  const results = await Promise.all(Array.from({ length: 100 }, () => upgrade('203.0.113.7')));
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 101).length, 20, `burst of 20 upgrades (${statuses})`);
  assert.equal(statuses.filter((s) => s === 429).length, 80);
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.json.error, 'rate_limited');
    assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After in seconds');
  }
  // Another address is not affected by the first one's flood.
  assert.equal((await upgrade('198.51.100.9')).status, 101);
  assert.ok(await metric(srv, 'parley_upgrades_refused_total', { status: '429' }) >= 80);
  await pair.progress(5);
  await pair.check();
});
