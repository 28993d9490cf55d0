// Publish fan-out through exact and pattern subscriptions (PROTOCOL.md §4.2 matching, §9.1):
// one message per receiver however many subscriptions match, message.channel is the concrete
// name, `*` does not cross `/`, escapes in patterns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectAck, subscribe, pingBarrier, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_wildcard0000000000000000000000all';
let srv;
const cleanup = [];
async function client() {
  const c = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({ config: configFor([{ id: 'wild', keys: [{ type: 'publishable', id: PK, channels: ['**'], actions: ALL }] }]) });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

// Publishes each channel in turn from `pub` and returns, per receiver, the channels of the
// messages it got (after a settle window).
async function deliveries(pub, receivers, channels) {
  for (const [i, ch] of channels.entries()) await expectAck(pub, { type: 'publish', channel: ch, data: i });
  await Promise.all(receivers.map((r) => pingBarrierMessages(r)));
  await new Promise((r) => setTimeout(r, 300));
  return receivers.map((r) => {
    const got = r.all.filter((f) => f.type === 'message').map((f) => f.channel);
    r.all.length = 0;
    r.frames.length = 0;
    return got;
  });
}
async function pingBarrierMessages(r) {
  r.send({ type: 'ping' });
  await r.next('pong');
}

test('exact + overlapping patterns: each message once, message.channel is the concrete name', async () => {
  const r = await client();
  await subscribe(r, 'room/1');
  for (const p of ['room/*', 'room/**', '**', 'r*/1', 'room/1*']) await expectAck(r, { type: 'subscribe', channel: p });
  const pub = await client();
  for (let i = 0; i < 5; i++) await expectAck(pub, { type: 'publish', channel: 'room/1', data: i });
  await expectAck(pub, { type: 'publish', channel: 'room/a/b', data: 'deep' });
  await expectAck(pub, { type: 'publish', channel: 'other', data: 'other' });
  const msgs = [];
  for (let i = 0; i < 7; i++) msgs.push(await r.next('message'));
  assert.deepEqual(msgs.map((m) => [m.channel, m.data]), [
    ['room/1', 0], ['room/1', 1], ['room/1', 2], ['room/1', 3], ['room/1', 4], ['room/a/b', 'deep'], ['other', 'other'],
  ]);
  for (const m of msgs) assert.deepEqual(Object.keys(m).sort(), ['channel', 'data', 'from', 'type']);
  await r.none('message', 300);
});

test('* does not cross /, ** does; patterns are anchored', async () => {
  const star = await client();
  const dstar = await client();
  const mid = await client();
  const pre = await client();
  await expectAck(star, { type: 'subscribe', channel: 'w/*' });
  await expectAck(dstar, { type: 'subscribe', channel: 'w/**' });
  await expectAck(mid, { type: 'subscribe', channel: 'devices/*/events' });
  await expectAck(pre, { type: 'subscribe', channel: 'room-*' });
  const pub = await client();
  const got = await deliveries(pub, [star, dstar, mid, pre], [
    'w/a', 'w/', 'w/a/b', 'w', 'xw/a', 'w/a/', 'devices/d1/events', 'devices/a/b/events', 'devices//events',
    'devices/d1/events/x', 'room-42', 'room-', 'room-1/x', 'aroom-1', 'room',
  ]);
  assert.deepEqual(got[0], ['w/a', 'w/'], 'w/*');
  assert.deepEqual(got[1], ['w/a', 'w/', 'w/a/b', 'w/a/'], 'w/**');
  assert.deepEqual(got[2], ['devices/d1/events', 'devices//events'], 'devices/*/events');
  assert.deepEqual(got[3], ['room-42', 'room-'], 'room-*');
});

test('escaped characters in patterns; byte-wise matching of multi-byte names', async () => {
  const a = await client();
  const b = await client();
  const c = await client();
  await expectAck(a, { type: 'subscribe', channel: 'c\\\\d/*' }); // matches c\d/…
  await expectAck(b, { type: 'subscribe', channel: 'lit\\**' });   // literal * then *: matches nothing concrete
  await expectAck(c, { type: 'subscribe', channel: 'é/*' });
  const pub = await client();
  const got = await deliveries(pub, [a, b, c], ['c\\d/1', 'c\\\\d/1', 'cd/1', 'lit', 'litx', 'é/x', 'e/x', 'é/x/y']);
  assert.deepEqual(got[0], ['c\\d/1']);
  assert.deepEqual(got[1], []);
  assert.deepEqual(got[2], ['é/x']);
});

test('the publisher is excluded even through a matching pattern; other receivers get it once', async () => {
  const pub = await client();
  await subscribe(pub, 'x/1');
  await expectAck(pub, { type: 'subscribe', channel: 'x/*' });
  const r1 = await client();
  const r2 = await client();
  await expectAck(r1, { type: 'subscribe', channel: 'x/*' });
  await expectAck(r2, { type: 'subscribe', channel: '**' });
  await subscribe(r2, 'x/1');
  const got = await deliveries(pub, [pub, r1, r2], ['x/1', 'x/2']);
  assert.deepEqual(got, [[], ['x/1', 'x/2'], ['x/1', 'x/2']]);
});

test('many receivers with mixed subscriptions each get exactly one copy', async () => {
  const receivers = [];
  const subsets = [['m/1'], ['m/*'], ['m/**'], ['**'], ['m/1', 'm/*'], ['m/1', '**', 'm/**', 'm/*'], ['m/2'], ['m/*/x']];
  for (const subs of subsets) {
    const r = await client();
    for (const s of subs) {
      if (s.includes('*')) await expectAck(r, { type: 'subscribe', channel: s });
      else await subscribe(r, s);
    }
    receivers.push(r);
  }
  await Promise.all(receivers.map((r) => pingBarrier(r).catch(() => {})));
  for (const r of receivers) { r.all.length = 0; r.frames.length = 0; }
  const pub = await client();
  const got = await deliveries(pub, receivers, ['m/1']);
  assert.deepEqual(got, [['m/1'], ['m/1'], ['m/1'], ['m/1'], ['m/1'], ['m/1'], [], []]);
});
