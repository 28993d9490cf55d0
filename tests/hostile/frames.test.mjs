// Hostile WebSocket framing (PROTOCOL.md §5.1, RFC 6455 §5): oversized messages announced and
// sent, fragment storms, messages held open just under the size cap, and invalid UTF-8 hidden in
// fragments — many connections at once. Each gets its close code; parleyd never buffers beyond
// the cap per connection; a well-behaved pair keeps exchanging messages without error or loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { RawWs, OP, buildFrame } from '../lib/rawws.mjs';
import { startHostile, startPair, watchRss, connectionsSettle, sleep } from '../lib/hostile.mjs';

const CAP = 65536 + 4096;

const text = (payload, fin = true) => buildFrame({ opcode: OP.text, fin, payload });
const cont = (payload, fin = true) => buildFrame({ opcode: OP.cont, fin, payload });

test('oversized, fragmented and invalid-UTF-8 messages from many connections: each closed, the pair untouched', async (t) => {
  const srv = await startHostile({ server: { threads: 4 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);

  const kinds = {
    // 1009 from the header alone: the 2^40-byte payload is never sent.
    announcedHuge: { bytes: () => buildFrame({ opcode: OP.text, payload: Buffer.alloc(8), length: 2 ** 40 }), code: 1009 },
    // 1009 when fragments add up past the cap, however small each one is.
    fragmentsPastCap: {
      bytes: () => Buffer.concat([text(Buffer.alloc(1000, 0x20), false), ...Array.from({ length: 69 }, () => cont(Buffer.alloc(1000, 0x20), false))]),
      code: 1009,
    },
    // Thousands of 1-byte fragments, then one past the cap.
    fragmentStorm: {
      bytes: () => Buffer.concat([text('[', false), ...Array.from({ length: CAP }, () => cont(' ', false))]),
      code: 1009,
    },
    // Invalid UTF-8 split over fragments (an overlong encoding and a lone continuation byte).
    badUtf8Fragments: {
      bytes: () => Buffer.concat([text(Buffer.from('{"type":"ping","x":"'), false), cont(Buffer.from([0xc0]), false), cont(Buffer.from([0xaf, 0x22, 0x7d]))]),
      code: 1007,
    },
    badUtf8Surrogate: { bytes: () => text(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), code: 1007 },
    // A control frame inside a message that is then too large.
    pingInsideOversized: {
      bytes: () => Buffer.concat([text(Buffer.alloc(CAP - 10, 0x20), false), buildFrame({ opcode: OP.ping, payload: 'x' }), cont(Buffer.alloc(11, 0x20))]),
      code: 1009,
    },
  };
  const rounds = [];
  for (let round = 0; round < 4; round++) {
    for (const [name, spec] of Object.entries(kinds)) {
      rounds.push((async () => {
        const c = await RawWs.open(srv, { key: defaultKeys.pk });
        try {
          c.write(spec.bytes());
          const cl = await c.closed(20000);
          assert.equal(cl.code, spec.code, name);
          assert.deepEqual(c.all.filter((f) => f.json?.type === 'error'), [], `${name}: no error frame`);
        } finally {
          c.destroy();
        }
      })());
    }
  }
  await Promise.all(rounds);
  await pair.progress(10);
  await connectionsSettle(srv, 2);
  const mem = rss.stop();
  t.diagnostic(`bad framing x${rounds.length}; parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  assert.ok(mem.growthMb < 200, `parleyd RSS grew by ${mem.growthMb} MB`);
  await pair.check();
});

test('messages held open just under the cap: memory is bounded by connections x cap', async (t) => {
  const srv = await startHostile({ server: { idle_timeout: 30 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  // 100 connections each send a fragmented message of CAP - 1 bytes and never finish it, and a
  // frame header announcing the rest, with its payload withheld.
  const holders = [];
  const rests = [];
  for (let i = 0; i < 100; i++) {
    const c = await RawWs.open(srv, { key: defaultKeys.pk });
    const last = buildFrame({ opcode: OP.cont, fin: true, payload: Buffer.alloc(1, 0x20) });
    c.write(Buffer.concat([text(Buffer.alloc(CAP - 1001, 0x20), false), cont(Buffer.alloc(1000, 0x20), false), last.subarray(0, 6)]));
    holders.push(c);
    rests.push(last.subarray(6));
  }
  await sleep(500);
  await pair.progress(10);
  const mem = rss.stop();
  t.diagnostic(`100 open messages of ${CAP - 1} bytes; parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  // 100 x 68 KB is 6.8 MB of payload; allow generously for reassembly buffers and ASan.
  assert.ok(mem.growthMb < 150, `parleyd RSS grew by ${mem.growthMb} MB`);
  // Nothing was wrong yet: they are open, and a message completed at exactly the cap is handled
  // (it is not JSON, so it is answered with malformed_message and the connection stays).
  for (const c of holders) assert.equal(c.closeFrame, null);
  holders[0].write(rests[0]);
  assert.equal((await holders[0].nextJson('error', 10000)).code, 'malformed_message');
  assert.equal(holders[0].closeFrame, null);
  for (const c of holders) c.destroy();
  await connectionsSettle(srv, 2);
  await pair.check();
});
