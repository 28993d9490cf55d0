// subscribe and unsubscribe (PROTOCOL.md §4.1–§4.5, §6.1, §6.2, §10 rule 4): validation order,
// channel and pattern syntax, reserved prefixes, actions, authorization and pattern coverage,
// the subscription limit, repeated subscribes, and unsubscribe semantics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectError, expectAck, assertError, pingBarrier, rawNext, subscribe, byteLen, ALL } from '../lib/proto.mjs';

const K = {
  all: 'pk_live_subscribe0000000000000000000000all',
  noSub: 'pk_live_subscribe000000000000000000000nosub',
  room: 'pk_live_subscribe0000000000000000000000room',
  app: 'pk_live_subscribe00000000000000000000000app',
  star: 'pk_live_subscribe0000000000000000000000star',
  tenant: 'pk_live_subscribe00000000000000000000tenant',
  devices: 'pk_live_subscribe0000000000000000000devices',
  escaped: 'pk_live_subscribe0000000000000000000escaped',
  none: 'pk_live_subscribe0000000000000000000000none',
};

let srv;
const open = (key) => RawClient.open(srv.ws, { key });
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'sub',
      keys: [
        { type: 'publishable', id: K.all, channels: ['**'], actions: ALL },
        { type: 'publishable', id: K.noSub, channels: ['**'], actions: ['publish', 'presence', 'send'] },
        { type: 'publishable', id: K.room, channels: ['room-*'], actions: ALL },
        { type: 'publishable', id: K.app, channels: ['app/**'], actions: ALL },
        { type: 'publishable', id: K.star, channels: ['*'], actions: ALL },
        { type: 'publishable', id: K.tenant, channels: ['tenant-*/**'], actions: ALL },
        { type: 'publishable', id: K.devices, channels: ['devices/*/events'], actions: ALL },
        { type: 'publishable', id: K.escaped, channels: ['c\\\\d/*', 'lit\\*/**'], actions: ALL },
        { type: 'publishable', id: K.none, channels: [], actions: ALL },
      ],
    }]),
  });
});
after(() => srv?.stop());

const cleanup = [];
after(async () => { await Promise.all(cleanup.map((c) => c.close().catch(() => {}))); });
async function client(key = K.all) {
  const c = await open(key);
  cleanup.push(c);
  return c;
}

test('non-boolean includeSenderMetadata → malformed_message, checked before the channel', async () => {
  const c = await client();
  for (const v of ['yes', 1, 0, null, {}, [], 'true']) {
    await expectError(c, { type: 'subscribe', channel: 'ok', includeSenderMetadata: v }, 'malformed_message');
    await expectError(c, { type: 'subscribe', channel: '', includeSenderMetadata: v }, 'malformed_message');
    await expectError(c, { type: 'subscribe', channel: '_system/x', includeSenderMetadata: v }, 'malformed_message');
  }
  await expectAck(c, { type: 'subscribe', channel: 'ok', includeSenderMetadata: true });
  await c.next('presence');
  await expectAck(c, { type: 'subscribe', channel: 'ok', includeSenderMetadata: false });
  await c.next('presence');
});

const tooLong = 'a'.repeat(257);
const invalidChannels = [
  ['missing channel', undefined],
  ['number', 5],
  ['null', null],
  ['array', ['a']],
  ['empty', ''],
  ['257 bytes', tooLong],
  ['257 bytes of 2-byte chars', `${'é'.repeat(128)}a`],
  ['NUL', 'a\u0000b'],
  ['control char', 'a\u0001'],
  ['tab', 'a\tb'],
  ['newline', 'a\n'],
  ['DEL', 'a\u007f'],
  ['U+0080', 'a\u0080'],
  ['U+0085', 'a\u0085'],
  ['U+009F', '\u009f'],
  ['a***', 'a***'],
  ['****', '****'],
  ['pattern with trailing backslash', 'room-*\\'],
  ['pattern with bad escape', 'a\\b*'],
  ['escaped star only: exact name containing *', 'a\\*b'],
  ['257-byte pattern', `${'p'.repeat(255)}**`],
  ['pattern with control char', 'a\u0001*'],
];

test('invalid channels → invalid_channel', async () => {
  const c = await client();
  for (const [label, channel] of invalidChannels) {
    const frame = { type: 'subscribe', requestId: `inv-${label}` };
    if (channel !== undefined) frame.channel = channel;
    const f = await c.request(frame);
    assertError(f, 'invalid_channel', `inv-${label}`);
  }
  await pingBarrier(c);
});

test('invalid channels written with escapes → invalid_channel (lone surrogates, U+0085)', async () => {
  const c = await client();
  const cases = ['\\ud800', 'a\\ud800b', '\\udc00', 'x\\ud83d', '\\udc00\\ud83d', 'a\\u0085', 'a\\u0000', '\\ud800*'];
  for (const [i, esc] of cases.entries()) {
    const f = await rawNext(c, `{"type":"subscribe","requestId":"esc${i}","channel":"${esc}"}`);
    assertError(f, 'invalid_channel', `esc${i}`);
  }
  // Unsubscribe applies the same rule.
  const f = await rawNext(c, '{"type":"unsubscribe","requestId":"escu","channel":"\\ud800"}');
  assertError(f, 'invalid_channel', 'escu');
});

test('valid names: 256 bytes, 2-byte and 4-byte characters, escapes, backslashes', async () => {
  const c = await client();
  for (const channel of ['a'.repeat(256), 'é'.repeat(128), '🔑'.repeat(64), 'a\\', 'c\\d', 'x/y\\z', ' ', 'room 1', '\u00a0', '\u2028']) {
    assert.ok(byteLen(channel) <= 256);
    await subscribe(c, channel);
  }
  // A surrogate pair written with escapes is a valid character.
  const f = await rawNext(c, '{"type":"subscribe","requestId":"pair","channel":"\\ud83d\\udd11"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'pair' });
  const snap = await c.next(() => true);
  assert.deepEqual(snap, { type: 'presence', channel: '🔑', joined: [], left: [] });
  // Valid patterns.
  for (const channel of [`${'p'.repeat(254)}**`, 'a\\***', 'c\\\\d/*', 'x*y*z', '*', '**']) {
    await expectAck(c, { type: 'subscribe', channel });
  }
  await pingBarrier(c); // no snapshot for pattern subscriptions
});

test('names are compared after JSON unescaping', async () => {
  const c = await client();
  const p = await client();
  // "\u002a\u002a" is the pattern **: ack and no snapshot.
  let f = await rawNext(c, '{"type":"subscribe","requestId":"esc-pat","channel":"esc/\u002a"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'esc-pat' });
  await pingBarrier(c);
  // Exact subscription written with escapes; publish with a different spelling of the same name.
  f = await rawNext(c, '{"type":"subscribe","requestId":"esc-ex","channel":"r\u006fom-\u00e9"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'esc-ex' });
  assert.deepEqual(await c.next(() => true), { type: 'presence', channel: 'room-é', joined: [], left: [] });
  await expectAck(p, { type: 'publish', channel: 'room-é', data: 1 });
  assert.deepEqual(await c.next('message'), { type: 'message', channel: 'room-é', from: p.peerId, data: 1 });
  f = await rawNext(p, '{"type":"publish","requestId":"esc-pub","channel":"esc/\u0078","data":2}');
  assert.deepEqual(f, { type: 'ack', requestId: 'esc-pub' });
  assert.deepEqual(await c.next('message'), { type: 'message', channel: 'esc/x', from: p.peerId, data: 2 });
  // Unsubscribing with yet another spelling removes the subscriptions.
  f = await rawNext(c, '{"type":"unsubscribe","requestId":"esc-un","channel":"\u0072oom-\u00E9"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'esc-un' });
  f = await rawNext(c, '{"type":"unsubscribe","requestId":"esc-un2","channel":"\u0065sc/*"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'esc-un2' });
  await expectAck(p, { type: 'publish', channel: 'room-é', data: 3 });
  await expectAck(p, { type: 'publish', channel: 'esc/x', data: 4 });
  await c.none('message', 300);
});

test('reserved prefixes (ASCII case-insensitive) → channel_reserved', async () => {
  const c = await client();
  for (const channel of ['_metered/x', '_INTERNAL/x', '_system/', '_System/a/b', '_METERED/', '_internal/*', '_system/*', '_system/**', '_Metered/a*']) {
    await expectError(c, { type: 'subscribe', channel }, 'channel_reserved');
  }
  // Written with an escape, still reserved.
  const f = await rawNext(c, '{"type":"subscribe","requestId":"resesc","channel":"\\u005fsystem/x"}');
  assertError(f, 'channel_reserved', 'resesc');
  // Not reserved: no trailing slash, prefix elsewhere, lit(P) too short.
  for (const channel of ['_metered', '_system', 'x/_system/y', '__system/x', '_systemx/y']) {
    await subscribe(c, channel);
  }
  await expectAck(c, { type: 'subscribe', channel: '**' });
  await expectAck(c, { type: 'subscribe', channel: '_*' });
});

test('validation order: invalid_channel, channel_reserved, action_not_permitted, channel_not_authorized', async () => {
  const noSub = await client(K.noSub);
  await expectError(noSub, { type: 'subscribe', channel: 'a***' }, 'invalid_channel');
  await expectError(noSub, { type: 'subscribe', channel: '_system/x' }, 'channel_reserved');
  await expectError(noSub, { type: 'subscribe', channel: 'lobby' }, 'action_not_permitted');
  await expectError(noSub, { type: 'subscribe', channel: 'room/*' }, 'action_not_permitted');
  const room = await client(K.room);
  await expectError(room, { type: 'subscribe', channel: '_internal/x' }, 'channel_reserved');
  await expectError(room, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
});

test('key channels ["room-*"]: lobby → channel_not_authorized, room-1 acked', async () => {
  const c = await client(K.room);
  await expectError(c, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'room-1/x' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'Room-1' }, 'channel_not_authorized');
  await subscribe(c, 'room-1');
  await subscribe(c, 'room-');
  // Patterns: identical allowed (b); anything else not provable by (a)/(c).
  await expectAck(c, { type: 'subscribe', channel: 'room-*' });
  await expectError(c, { type: 'subscribe', channel: 'room-1*' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'room-**' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: '**' }, 'channel_not_authorized');
});

test('pattern coverage (§4.4)', async () => {
  const app = await client(K.app);
  await expectAck(app, { type: 'subscribe', channel: 'app/*/x' });        // (c)
  await expectAck(app, { type: 'subscribe', channel: 'app/devices/*/events' }); // (c)
  await expectAck(app, { type: 'subscribe', channel: 'app/**' });         // (b) and (c)
  await expectAck(app, { type: 'subscribe', channel: 'app/*' });          // (c)
  await expectError(app, { type: 'subscribe', channel: 'app**' }, 'channel_not_authorized');
  await expectError(app, { type: 'subscribe', channel: 'app*' }, 'channel_not_authorized');
  await expectError(app, { type: 'subscribe', channel: '*/x' }, 'channel_not_authorized');
  await expectError(app, { type: 'subscribe', channel: 'ap*/x' }, 'channel_not_authorized');
  await expectError(app, { type: 'subscribe', channel: 'app' }, 'channel_not_authorized');
  await subscribe(app, 'app/');
  await subscribe(app, 'app/a/b/c');

  const star = await client(K.star);
  await expectError(star, { type: 'subscribe', channel: 'room-*' }, 'channel_not_authorized');
  await expectError(star, { type: 'subscribe', channel: '**' }, 'channel_not_authorized');
  await expectAck(star, { type: 'subscribe', channel: '*' });             // (b)
  await subscribe(star, 'room-1');
  await expectError(star, { type: 'subscribe', channel: 'a/b' }, 'channel_not_authorized');

  const tenant = await client(K.tenant);
  await expectAck(tenant, { type: 'subscribe', channel: 'tenant-7/rooms/*' }); // (c): tenant-* matches tenant-7/ prefix
  await expectAck(tenant, { type: 'subscribe', channel: 'tenant-7/**' });
  await expectError(tenant, { type: 'subscribe', channel: 'tenant-*' }, 'channel_not_authorized');
  await expectError(tenant, { type: 'subscribe', channel: 'other/*' }, 'channel_not_authorized');

  const dev = await client(K.devices);
  await expectAck(dev, { type: 'subscribe', channel: 'devices/*/events' }); // (b)
  await subscribe(dev, 'devices/d1/events');
  await expectError(dev, { type: 'subscribe', channel: 'devices/a/b/events' }, 'channel_not_authorized');
  await expectError(dev, { type: 'subscribe', channel: 'devices/d*/events' }, 'channel_not_authorized');

  // (a): a "pattern" subscription whose only wildcard is escaped is an exact subscription; a
  // pattern with an escaped * and a real wildcard is covered by an identical or ** pattern.
  const esc = await client(K.escaped);
  await subscribe(esc, 'c\\d/1');
  await expectError(esc, { type: 'subscribe', channel: 'c\\\\d/1' }, 'channel_not_authorized');
  await expectAck(esc, { type: 'subscribe', channel: 'c\\\\d/*' });
  await expectAck(esc, { type: 'subscribe', channel: 'lit\\*/x/*' });

  const none = await client(K.none);
  await expectError(none, { type: 'subscribe', channel: 'anything' }, 'channel_not_authorized');
  await expectError(none, { type: 'subscribe', channel: '**' }, 'channel_not_authorized');
});

test('channel_limit_exceeded on the 101st distinct subscription; re-subscribing at the limit acks', async () => {
  const c = await client();
  // One at a time (pipelining is covered by its own test below).
  for (let i = 0; i < 90; i++) await subscribe(c, `lim-${i}`);
  for (let i = 0; i < 10; i++) await expectAck(c, { type: 'subscribe', channel: `limp-${i}/*` });

  await expectError(c, { type: 'subscribe', channel: 'lim-new' }, 'channel_limit_exceeded');
  await expectError(c, { type: 'subscribe', channel: 'limp-new/*' }, 'channel_limit_exceeded');
  await pingBarrier(c);
  // Re-subscribing existing ones (exact: fresh snapshot; pattern: ack only), also changing the flag.
  await subscribe(c, 'lim-5');
  await subscribe(c, 'lim-6', { includeSenderMetadata: true });
  await expectAck(c, { type: 'subscribe', channel: 'limp-3/*' });
  await expectAck(c, { type: 'subscribe', channel: 'limp-4/*', includeSenderMetadata: true });
  await pingBarrier(c);
  // Validation before the limit: authorization and syntax errors keep their codes.
  await expectError(c, { type: 'subscribe', channel: '' }, 'invalid_channel');
  await expectError(c, { type: 'subscribe', channel: '_system/x' }, 'channel_reserved');
  // Freeing one slot admits one more.
  await expectAck(c, { type: 'unsubscribe', channel: 'lim-0' });
  await subscribe(c, 'lim-new');
  await expectError(c, { type: 'subscribe', channel: 'lim-newer' }, 'channel_limit_exceeded');
  // Unsubscribing something not held frees nothing.
  await expectAck(c, { type: 'unsubscribe', channel: 'never-held' });
  await expectError(c, { type: 'subscribe', channel: 'lim-newer' }, 'channel_limit_exceeded');
});

test('max_subscriptions (server setting) sets the limit', async (t) => {
  const small = await startParleyd({ config: configFor([{ id: 'small', keys: [{ type: 'publishable', id: K.all, actions: ALL }] }], 'max_subscriptions = 3') });
  t.after(() => small.stop());
  const c = await RawClient.open(small.ws, { key: K.all });
  await subscribe(c, 's1');
  await expectAck(c, { type: 'subscribe', channel: 's2/*' });
  await subscribe(c, 's3');
  await expectError(c, { type: 'subscribe', channel: 's4' }, 'channel_limit_exceeded');
  await expectError(c, { type: 'subscribe', channel: 's4/*' }, 'channel_limit_exceeded');
  await subscribe(c, 's1');
  await expectAck(c, { type: 'unsubscribe', channel: 's2/*' });
  await subscribe(c, 's4');
  await c.close();
});

test('at the limit, an unauthorized channel still gets channel_not_authorized', async () => {
  const c = await client(K.room);
  for (let i = 0; i < 100; i++) {
    await expectAck(c, { type: 'subscribe', channel: `room-${i}` });
    await c.next('presence');
  }
  await expectError(c, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'room-x' }, 'channel_limit_exceeded');
});

test('pipelined subscribes (sent without waiting) are all answered, in order', async () => {
  // §5.3: frames are processed one at a time in arrival order; every request gets its response.
  for (let round = 0; round < 10; round++) {
    const c = await client();
    for (let i = 0; i < 60; i++) c.send({ type: 'subscribe', channel: `pipe-${round}-${i}`, requestId: `p${i}` });
    c.send({ type: 'ping' });
    for (let i = 0; i < 60; i++) {
      const f = await c.next(() => true, 3000).catch((e) => {
        throw new Error(`round ${round}: no response to subscribe #${i} (${c.all.length} frames received in all): ${e.message}`);
      });
      assert.deepEqual(f, { type: 'ack', requestId: `p${i}` });
      assert.deepEqual(await c.next(() => true), { type: 'presence', channel: `pipe-${round}-${i}`, joined: [], left: [] });
    }
    assert.deepEqual(await c.next(() => true), { type: 'pong' });
    await c.close();
  }
});

test('repeated subscribe: fresh ack and complete snapshot each time, no extra joined to others', async () => {
  const a = await client();
  const b = await client();
  await subscribe(a, 'rep');
  const snapB = await subscribe(b, 'rep');
  assert.deepEqual(snapB.joined, [{ peerId: a.peerId }]);
  assert.deepEqual(await a.next('presence'), { type: 'presence', channel: 'rep', joined: [{ peerId: b.peerId }], left: [] });
  for (let i = 0; i < 3; i++) {
    const again = await subscribe(b, 'rep', i === 1 ? { includeSenderMetadata: true } : {});
    assert.deepEqual(again, { type: 'presence', channel: 'rep', joined: [{ peerId: a.peerId }], left: [] });
  }
  const again = await subscribe(a, 'rep');
  assert.deepEqual(again, { type: 'presence', channel: 'rep', joined: [{ peerId: b.peerId }], left: [] });
  await a.none('presence', 300);
  await b.none('presence', 300);
  // Still one subscription: one unsubscribe removes it and produces one left.
  await expectAck(b, { type: 'unsubscribe', channel: 'rep' });
  assert.deepEqual(await a.next('presence'), { type: 'presence', channel: 'rep', joined: [], left: [{ peerId: b.peerId }] });
});

test('unsubscribe acks even when not subscribed, including unauthorized and reserved names', async () => {
  const c = await client(K.room);
  await expectAck(c, { type: 'unsubscribe', channel: 'never' });
  await expectAck(c, { type: 'unsubscribe', channel: 'lobby' });        // not authorized: not checked
  await expectAck(c, { type: 'unsubscribe', channel: '_system/x' });    // reserved: not checked
  await expectAck(c, { type: 'unsubscribe', channel: '_METERED/*' });
  await expectAck(c, { type: 'unsubscribe', channel: '**' });
  const noSub = await client(K.noSub);
  await expectAck(noSub, { type: 'unsubscribe', channel: 'x' });        // no action needed
  await pingBarrier(c);
});

test('unsubscribe with an invalid channel → invalid_channel', async () => {
  const c = await client();
  for (const [label, channel] of invalidChannels) {
    const frame = { type: 'unsubscribe', requestId: `uinv-${label}` };
    if (channel !== undefined) frame.channel = channel;
    assertError(await c.request(frame), 'invalid_channel', `uinv-${label}`);
  }
});

test('after the unsubscribe ack no message for that channel arrives; others see left', async () => {
  const a = await client();
  const b = await client();
  const pub = await client();
  await subscribe(a, 'uns');
  await subscribe(b, 'uns');
  await a.next('presence');
  for (let i = 0; i < 20; i++) pub.send({ type: 'publish', channel: 'uns', data: i });
  // Send the unsubscribe without waiting: whatever arrives after its ack must not be from 'uns'.
  b.send({ type: 'unsubscribe', channel: 'uns', requestId: 'u-b' });
  for (let i = 20; i < 40; i++) pub.send({ type: 'publish', channel: 'uns', data: i });
  await b.next((f) => f.type === 'ack' && f.requestId === 'u-b');
  const idx = b.all.findIndex((f) => f.type === 'ack' && f.requestId === 'u-b');
  await pub.request({ type: 'publish', channel: 'uns', data: 'last' });
  // a receives all 41 messages, in order.
  for (let i = 0; i < 40; i++) assert.equal((await a.next('message')).data, i);
  assert.equal((await a.next('message')).data, 'last');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(b.all.slice(idx + 1), [], `frames after the unsubscribe ack: ${JSON.stringify(b.all.slice(idx + 1))}`);
  assert.deepEqual(await a.next('presence'), { type: 'presence', channel: 'uns', joined: [], left: [{ peerId: b.peerId }] });
  // No presence for the channel either: a leaving is not reported to b.
  await a.close();
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(b.all.slice(idx + 1), [], `frames after the unsubscribe ack: ${JSON.stringify(b.all.slice(idx + 1))}`);
});

test('unsubscribing the exact subscription keeps delivery through a matching pattern; unsubscribing the pattern needs the same string', async () => {
  const r = await client();
  const p = await client();
  await subscribe(r, 'over/1');
  await expectAck(r, { type: 'subscribe', channel: 'over/*' });
  await expectAck(r, { type: 'unsubscribe', channel: 'over/1' });
  await expectAck(p, { type: 'publish', channel: 'over/1', data: 1 });
  assert.deepEqual(await r.next('message'), { type: 'message', channel: 'over/1', from: p.peerId, data: 1 });
  await expectAck(r, { type: 'unsubscribe', channel: 'over/**' }); // a different string: nothing removed
  await expectAck(p, { type: 'publish', channel: 'over/2', data: 2 });
  assert.equal((await r.next('message')).data, 2);
  await expectAck(r, { type: 'unsubscribe', channel: 'over/*' });
  await expectAck(p, { type: 'publish', channel: 'over/3', data: 3 });
  await r.none('message', 300);
});
