// PROTOCOL.md §9.5: a connection whose outbound buffer exceeds outbound_buffer_limit is closed with
// 1008 slow_consumer; the publisher and other receivers are unaffected and memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { metricValue, scrape } from '../lib/promtext.mjs';
import { RawWs, OP } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';

function vmRssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

test('a subscriber that never reads is closed 1008 slow_consumer; the publisher is unaffected', async (t) => {
  const srv = await startParleyd({
    // ASan's quarantine would otherwise hold up to 256 MB of freed memory and hide what parleyd
    // really keeps; a small one makes VmRSS meaningful.
    env: { ASAN_OPTIONS: 'detect_leaks=1:quarantine_size_mb=8' },
    config: buildConfig({
      server: { outbound_buffer_limit: 2097152, connect_burst_per_ip: 1000 },
      app: { rate_limit_per_second: 100000, rate_limit_burst: 100000 },
    }),
  });
  t.after(() => srv.stop());
  const rssBefore = vmRssKb(srv.proc.pid);
  const m0 = await scrape(srv);
  const closed1008 = (m) => metricValue(m, 'parley_connections_closed_total', { code: '1008' }) ?? 0;
  const slowCloses = (m) => metricValue(m, 'parley_slow_consumer_closes_total') ?? 0;

  // The slow consumer: a raw TCP client that subscribes and then stops reading its socket.
  const slow = await RawWs.open(srv, { key: defaultKeys.pk });
  t.after(() => slow.destroy());
  assert.equal((await slow.request({ type: 'subscribe', channel: 'flood' })).type, 'ack');
  slow.pause();

  // A healthy receiver and the publisher.
  const healthy = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await healthy.request({ type: 'subscribe', channel: 'flood' })).type, 'ack');
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });

  const payload = 'x'.repeat(60000);
  let sent = 0;
  let received = 0;
  const receive = (async () => {
    // Drain the healthy receiver as we go, checking order.
    for (;;) {
      const m = await healthy.next('message', 30000);
      assert.equal(m.data.n, received, 'healthy receiver gets every message in order');
      received++;
      if (m.data.last) return;
    }
  })();

  const window = 8;
  const maxMessages = 4000; // ~240 MB: far beyond any socket buffers plus 2 MiB
  let closedSeen = false;
  while (sent < maxMessages && !closedSeen) {
    // The healthy receiver must never be a slow consumer itself: the publisher stays at most two
    // windows (~1 MB) ahead of what it has read, half the limit. (Acks only say a message was
    // queued; on a busy machine this test process may read slower than parleyd queues.)
    while (sent - received > 2 * window) await new Promise((r) => setTimeout(r, 2));
    const batch = [];
    for (let i = 0; i < window; i++) {
      batch.push(pub.request({ type: 'publish', channel: 'flood', data: { n: sent, p: payload } }, 15000));
      sent++;
    }
    for (const r of await Promise.all(batch)) assert.equal(r.type, 'ack', JSON.stringify(r));
    if (sent % 80 === 0) {
      const m = await scrape(srv);
      closedSeen = slowCloses(m) > slowCloses(m0) || closed1008(m) > closed1008(m0);
    }
  }
  assert.ok(closedSeen, `the slow consumer was not closed with 1008 after ${sent} messages of 60 KB`);
  assert.equal((await pub.request({ type: 'publish', channel: 'flood', data: { n: sent, last: true } })).type, 'ack');
  sent++;
  await receive;
  assert.equal(received, sent, 'the healthy receiver got everything');

  // The slow client, reading again, finds its connection ended: a 1008 close frame if one made
  // it (answered like a client would), then the end of the TCP stream. It never gets the flood.
  slow.resume();
  await new Promise((resolve) => {
    const t0 = Date.now();
    const tick = () => {
      if (slow.closeFrame) slow.sendClose(1008);
      if (slow.closeFrame || slow.ended || Date.now() - t0 > 15000) resolve();
      else setTimeout(tick, 20);
    };
    tick();
  });
  const end = await slow.end(15000);
  assert.ok(end);
  if (slow.closeFrame) assert.deepEqual({ code: slow.closeFrame.code, reason: slow.closeFrame.reason }, { code: 1008, reason: 'slow_consumer' });

  let m1;
  for (let i = 0; i < 100; i++) {
    m1 = await scrape(srv);
    if (closed1008(m1) > closed1008(m0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(closed1008(m1), closed1008(m0) + 1, 'parley_connections_closed_total{code="1008"} counts one close');
  assert.equal(slowCloses(m1), slowCloses(m0) + 1, 'parley_slow_consumer_closes_total counts it');
  const got = slow.all.filter((f) => f.opcode === OP.text && f.json?.type === 'message').length;
  assert.ok(got < sent, `the slow consumer's queue was discarded (${got} of ${sent} delivered)`);

  // Publisher and healthy receiver are untouched.
  assert.equal(pub.closed, null);
  assert.equal(healthy.closed, null);
  assert.deepEqual(pub.all.filter((f) => f.type === 'error'), []);
  assert.deepEqual(healthy.all.filter((f) => f.type === 'error'), []);
  const ping = await pub.request({ type: 'publish', channel: 'flood', data: { n: sent, after: true } });
  assert.equal(ping.type, 'ack');
  assert.equal((await healthy.next('message')).data.after, true);

  const rssAfter = vmRssKb(srv.proc.pid);
  assert.ok(rssAfter - rssBefore < 200 * 1024, `parleyd RSS grew by ${Math.round((rssAfter - rssBefore) / 1024)} MB`);
  await pub.close();
  await healthy.close();
});
