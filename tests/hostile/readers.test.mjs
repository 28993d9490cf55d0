// Readers that never read (PROTOCOL.md §9.5): many subscribers and direct targets stop reading
// while a publisher floods them. Each is closed 1008 slow_consumer once its outbound buffer
// would pass the limit, parleyd's memory stays bounded (measured: VmRSS), and a well-behaved
// pair — on the same channel — keeps receiving every message without error or loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { RawWs } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';
import { startHostile, startPair, watchRss, metric, connectionsSettle, sleep } from '../lib/hostile.mjs';

test('never-reading subscribers and direct targets are closed 1008; memory stays bounded', async (t) => {
  const limit = 2 * 1024 * 1024;
  const srv = await startHostile({ server: { outbound_buffer_limit: limit, threads: 4 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv, { channel: 'flood' });
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  const slowBefore = await metric(srv, 'parley_slow_consumer_closes_total');

  // 20 subscribers of the flooded channel and 10 peers targeted by directs, none of them reading.
  const readers = [];
  for (let i = 0; i < 30; i++) {
    const c = await RawWs.open(srv, { key: defaultKeys.pk });
    t.after(() => c.destroy());
    if (i < 20) assert.equal((await c.request({ type: 'subscribe', channel: 'flood' })).type, 'ack');
    c.pause();
    readers.push(c);
  }
  const targets = readers.slice(20);

  // The publisher floods up to ~48 MB per subscriber (16 KB publishes) and per direct target
  // (60 KB directs, round robin): far more than the kernel's socket buffers plus the limit, so
  // every reader's queue must reach the limit.
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const small = 'x'.repeat(16000);
  const big = 'y'.repeat(60000);
  const window = 16;
  let n = 0;
  const slowNow = async () => (await metric(srv, 'parley_slow_consumer_closes_total')) - slowBefore;
  // The pair reads the flood too; it must not become a slow consumer on a busy machine, so the
  // publisher stays at most four windows (~1 MB of publishes) ahead of what both have read.
  const floodRead = (c) => c.all.reduce((k, f) => k + (f.type === 'message' && f.from === pub.peerId ? 1 : 0), 0);
  while (n < 3000 && (await slowNow()) < readers.length) {
    while (n - Math.min(floodRead(pair.a), floodRead(pair.b)) > 4 * window) await sleep(2);
    const batch = [];
    for (let i = 0; i < window; i++, n++) {
      batch.push(pub.request({ type: 'publish', channel: 'flood', data: { n, p: small } }, 30000));
      const to = targets[n % targets.length].peerId;
      batch.push(pub.request({ type: 'send', to, data: { n, p: big } }, 30000));
    }
    for (const r of await Promise.all(batch)) {
      // A direct to a reader that was just closed may find no peer: that is the only refusal.
      assert.ok(r.type === 'ack' || r.code === 'peer_not_found', JSON.stringify(r));
    }
  }
  assert.equal(await slowNow(), readers.length, `every reader closed as a slow consumer after ${n} publishes`);
  const mem = rss.stop();
  t.diagnostic(`30 never-reading readers, ${n} publishes (16 KB) and directs (60 KB); parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  // 30 x 2 MiB of queues plus the in-kernel socket buffers parleyd does not own; generous.
  assert.ok(mem.growthMb < 400, `parleyd RSS grew by ${mem.growthMb} MB`);
  for (const c of readers) c.destroy();
  await connectionsSettle(srv, 3, 30000);
  assert.equal(pub.closed, null);
  assert.deepEqual(pub.all.filter((f) => f.type === 'error' && f.code !== 'peer_not_found'), []);
  // The pair, subscribed to the same channel, also received the flood: drain it before checking.
  for (const c of [pair.a, pair.b]) {
    for (let i = 0; i < n; i++) await c.next((f) => f.type === 'message' && f.from === pub.peerId, 30000);
  }
  await pub.close();
  await pair.check();
});
