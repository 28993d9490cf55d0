// A presence snapshot larger than the 1,048,576-byte server frame cap is split over consecutive
// presence frames (PROTOCOL.md §5.1, §8.2). 300 peers with 4096-byte peerMetadata make a
// snapshot of about 1.2 MB. The members lack the presence action so they receive no deltas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { configFor, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_split000000000000000000000000all';
const SK_ID = 'sk_id_split0000000000000000000000000001';
const SK = 'sk_secret_split0000000000000000000000001';
const N = 300;
let srv;
const cleanup = [];
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'split',
      keys: [
        { type: 'publishable', id: PK, channels: ['**'], actions: ALL },
        { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
      ],
    }]),
  });
});
after(async () => {
  for (const c of cleanup) c.ws.terminate();
  await srv?.stop();
});

test('a snapshot over 1 MiB is split into consecutive presence frames, each within the cap', async () => {
  const channel = 'big-room';
  const pm = (i) => `{"i":"${String(i).padStart(4, '0')}","pad":"${'x'.repeat(4096 - 21)}"}`;
  assert.equal(Buffer.byteLength(pm(1)), 4096);
  const ids = [];
  for (let start = 0; start < N; start += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, N - start) }, async (_, j) => {
      const i = start + j;
      const sub = `member-${String(i).padStart(4, '0')}`;
      const token = mintToken({
        kid: SK_ID, secret: SK,
        payloadText: `{"sub":"${sub}","exp":${Math.floor(Date.now() / 1000) + 600},"permissions":["subscribe"],"peerMetadata":${pm(i)}}`,
      });
      const c = await RawClient.open(srv.ws, { token });
      cleanup.push(c);
      const ack = await c.request({ type: 'subscribe', channel });
      assert.equal(ack.type, 'ack');
      return sub;
    }));
    ids.push(...batch);
  }

  const o = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(o);
  o.send({ type: 'subscribe', channel, requestId: 'big' });
  assert.deepEqual(await o.next(() => true, 10000), { type: 'ack', requestId: 'big' });
  const seen = new Map();
  const parts = [];
  while (seen.size < N) {
    const f = await o.next(() => true, 10000);
    assert.equal(f.type, 'presence', `only snapshot parts may follow the ack, got ${JSON.stringify(f).slice(0, 200)}`);
    assert.equal(f.channel, channel);
    assert.deepEqual(f.left, []);
    assert.ok(f.joined.length > 0);
    const size = Buffer.byteLength(o.raw(f));
    assert.ok(size <= 1048576, `presence frame of ${size} bytes exceeds the server frame cap`);
    parts.push(size);
    for (const e of f.joined) {
      assert.ok(!seen.has(e.peerId), `peer ${e.peerId} listed twice`);
      seen.set(e.peerId, e);
    }
  }
  assert.ok(parts.length >= 2, `expected a split snapshot, got ${parts.length} frame(s) of ${parts}`);
  assert.deepEqual([...seen.keys()].sort(), [...ids].sort());
  for (const [peerId, e] of seen) {
    const i = Number(peerId.slice('member-'.length));
    assert.deepEqual(e, { peerId, metadata: JSON.parse(pm(i)) });
  }
  // Afterwards, a delta.
  const late = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(late);
  late.send({ type: 'subscribe', channel });
  const d = await o.next(() => true, 10000);
  assert.deepEqual(d, { type: 'presence', channel, joined: [{ peerId: late.peerId }], left: [] });
});
