// publish (PROTOCOL.md §6.3, §7, §9.1): validation order and codes, data size measured on the
// received JSON text, null data, byte-for-byte relay of data, self-exclusion, publishing without
// a subscription.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectError, expectAck, assertError, pingBarrier, rawNext, subscribe, ALL } from '../lib/proto.mjs';

const K = {
  all: 'pk_live_publish00000000000000000000000all',
  noPub: 'pk_live_publish0000000000000000000000nopub',
  room: 'pk_live_publish000000000000000000000000room',
};
let srv;
const cleanup = [];
async function client(key = K.all) {
  const c = await RawClient.open(srv.ws, { key });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({
    config: configFor([{
      id: 'pub',
      keys: [
        { type: 'publishable', id: K.all, channels: ['**'], actions: ALL },
        { type: 'publishable', id: K.noPub, channels: ['**'], actions: ['subscribe', 'presence', 'send'] },
        { type: 'publishable', id: K.room, channels: ['room-*'], actions: ALL },
      ],
    }]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

// A 65536-byte and a 65537-byte data text.
const str = (n) => `"${'a'.repeat(n - 2)}"`;

test('publish with * in the channel → invalid_channel; other invalid channels too', async () => {
  const c = await client();
  for (const channel of ['room-*', '**', 'a\\*b', '*', '', 'a'.repeat(257), 'a\u0000', 'a\u0085', 5, null]) {
    await expectError(c, { type: 'publish', channel, data: 1 }, 'invalid_channel');
  }
  await expectError(c, { type: 'publish', data: 1 }, 'invalid_channel');
  const f = await rawNext(c, '{"type":"publish","requestId":"ls","channel":"a\\ud800","data":1}');
  assertError(f, 'invalid_channel', 'ls');
});

test('publish to a reserved channel → channel_reserved', async () => {
  const c = await client();
  for (const channel of ['_metered/x', '_INTERNAL/x', '_system/', '_System/a']) {
    await expectError(c, { type: 'publish', channel, data: 1 }, 'channel_reserved');
  }
  // Nothing published reaches a ** subscriber.
  const rx = await client();
  await expectAck(rx, { type: 'subscribe', channel: '**' });
  await expectError(c, { type: 'publish', channel: '_system/x', data: 1 }, 'channel_reserved');
  await rx.none('message', 300);
});

test('publish without data → missing_data; data:null is delivered as "data":null', async () => {
  const c = await client();
  const rx = await client();
  await subscribe(rx, 'nulls');
  await expectError(c, { type: 'publish', channel: 'nulls' }, 'missing_data');
  await expectError(c, { type: 'publish', channel: 'nulls', Data: 1 }, 'missing_data');
  await rx.none('message', 200);
  const ack = await rawNext(c, '{"type":"publish","channel":"nulls","data":null,"requestId":"n1"}');
  assert.deepEqual(ack, { type: 'ack', requestId: 'n1' });
  const m = await rx.next('message');
  assert.deepEqual(m, { type: 'message', channel: 'nulls', from: c.peerId, data: null });
  assert.ok(rx.raw(m).includes('"data":null'), rx.raw(m));
});

test('data of exactly 65536 bytes of JSON text is accepted; 65537 → payload_too_large', async () => {
  const c = await client();
  const rx = await client();
  await subscribe(rx, 'big');
  // Plain ASCII string.
  await expectAck(c, { type: 'publish', channel: 'big', data: JSON.parse(str(65536)) });
  const m = await rx.next('message');
  assert.equal(m.data.length, 65534);
  await expectError(c, { type: 'publish', channel: 'big', data: JSON.parse(str(65537)) }, 'payload_too_large');

  // Measured in UTF-8 bytes: 32767 × "é" (2 bytes) + quotes = 65536; one more byte → too large.
  const e1 = `"${'é'.repeat(32767)}"`;
  let f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u1","data":${e1}}`);
  assert.deepEqual(f, { type: 'ack', requestId: 'u1' });
  f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u2","data":"${'é'.repeat(32767)}a"}`);
  assertError(f, 'payload_too_large', 'u2');

  // Measured on the text as received: escapes count with their full length.
  const esc = `"${'\\u0041'.repeat(10922)}aa"`; // 2 + 65532 + 2 = 65536 bytes
  assert.equal(Buffer.byteLength(esc), 65536);
  f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u3","data":${esc}}`);
  assert.deepEqual(f, { type: 'ack', requestId: 'u3' });
  f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u4","data":"${'\\u0041'.repeat(10922)}aaa"}`);
  assertError(f, 'payload_too_large', 'u4');

  // Whitespace inside the value counts; whitespace around it does not.
  const ws = `[${' '.repeat(65534)}]`;
  f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u5","data"  :  ${ws}  \n, "x":1}`);
  assert.deepEqual(f, { type: 'ack', requestId: 'u5' });
  f = await rawNext(c, `{"type":"publish","channel":"big","requestId":"u6","data":[${' '.repeat(65535)}]}`);
  assertError(f, 'payload_too_large', 'u6');

  // The receiver got the accepted ones, verbatim.
  for (const text of [e1, esc, ws]) {
    const mm = await rx.next('message');
    assert.ok(rx.raw(mm).includes(`"data":${text}`), 'relayed verbatim');
  }
  await rx.none('message', 300);
});

test('max_message_size (server setting) is announced in the welcome and enforced on data', async (t) => {
  const small = await startParleyd({ config: configFor([{ id: 'small', keys: [{ type: 'publishable', id: K.all, actions: ALL }] }], 'max_message_size = 1000') });
  t.after(() => small.stop());
  const a = await RawClient.open(small.ws, { key: K.all });
  const b = await RawClient.open(small.ws, { key: K.all });
  assert.equal(a.welcome.maxMessageSize, 1000);
  await subscribe(b, 'small');
  await expectAck(a, { type: 'publish', channel: 'small', data: JSON.parse(str(1000)) });
  assert.equal((await b.next('message')).data.length, 998);
  await expectError(a, { type: 'publish', channel: 'small', data: JSON.parse(str(1001)) }, 'payload_too_large');
  await expectAck(a, { type: 'send', to: b.peerId, data: JSON.parse(str(1000)) });
  await expectError(a, { type: 'send', to: b.peerId, data: JSON.parse(str(1001)) }, 'payload_too_large');
  // The frame itself may exceed max_message_size by the envelope headroom.
  const f = await rawNext(a, `{"type":"publish","channel":"small","requestId":"pad","pad":"${'p'.repeat(2000)}","data":1}`);
  assert.deepEqual(f, { type: 'ack', requestId: 'pad' });
  await a.close();
  await b.close();
});

test('validation order: invalid_channel, channel_reserved, missing_data, payload_too_large, action_not_permitted, channel_not_authorized', async () => {
  const noPub = await client(K.noPub);
  await expectError(noPub, { type: 'publish', channel: 'a*' }, 'invalid_channel');
  await expectError(noPub, { type: 'publish', channel: '_system/x' }, 'channel_reserved');
  await expectError(noPub, { type: 'publish', channel: 'x' }, 'missing_data');
  await expectError(noPub, { type: 'publish', channel: 'x', data: JSON.parse(str(65537)) }, 'payload_too_large');
  await expectError(noPub, { type: 'publish', channel: 'x', data: 1 }, 'action_not_permitted');
  const room = await client(K.room);
  await expectError(room, { type: 'publish', channel: '_metered/x', data: 1 }, 'channel_reserved');
  await expectError(room, { type: 'publish', channel: 'lobby' }, 'missing_data');
  await expectError(room, { type: 'publish', channel: 'lobby', data: JSON.parse(str(65537)) }, 'payload_too_large');
  await expectError(room, { type: 'publish', channel: 'lobby', data: 1 }, 'channel_not_authorized');
  await expectError(room, { type: 'publish', channel: 'room-1/x', data: 1 }, 'channel_not_authorized');
  await expectAck(room, { type: 'publish', channel: 'room-1', data: 1 });
});

test('a rejected publish delivers nothing', async () => {
  const rx = await client();
  await expectAck(rx, { type: 'subscribe', channel: '**' });
  const room = await client(K.room);
  const noPub = await client(K.noPub);
  await expectError(room, { type: 'publish', channel: 'lobby', data: 1 }, 'channel_not_authorized');
  await expectError(noPub, { type: 'publish', channel: 'lobby', data: 1 }, 'action_not_permitted');
  await expectError(noPub, { type: 'publish', channel: 'lobby', data: JSON.parse(str(65537)) }, 'payload_too_large');
  await rx.none('message', 300);
});

test('the publisher does not receive its own message; publishing needs no subscription', async () => {
  const a = await client();
  const b = await client();
  const c = await client();
  await subscribe(a, 'self');
  await subscribe(b, 'self');
  await expectAck(a, { type: 'subscribe', channel: 'sel*' });
  await expectAck(a, { type: 'publish', channel: 'self', data: 'from-a' });
  assert.deepEqual(await b.next('message'), { type: 'message', channel: 'self', from: a.peerId, data: 'from-a' });
  await a.none('message', 300);
  // c is not subscribed to anything.
  await expectAck(c, { type: 'publish', channel: 'self', data: 'from-c' });
  assert.deepEqual(await a.next('message'), { type: 'message', channel: 'self', from: c.peerId, data: 'from-c' });
  assert.deepEqual(await b.next('message'), { type: 'message', channel: 'self', from: c.peerId, data: 'from-c' });
  await c.none('message', 300);
  await a.none('message', 100);
});

test('data is relayed byte for byte (numbers, escapes, whitespace, member order)', async () => {
  const pub = await client();
  const rx = await client();
  await subscribe(rx, 'raw');
  const datas = [
    '12345678901234567890123',
    '1e400',
    '-0.0',
    '1E+2',
    '0.1000000000000000055511151231257827',
    '{ "z" : 1 ,\n\t"a" : [ 1 , 2 ] , "m":{"b":2,"a":1} }',
    '{"b":1,"a":2,"b":3}',
    '"\\u00e9\\u00E9é"',
    '"\\ud800"',
    '{"s":"x\\udc00y","t":"\\ud83d\\udd11"}',
    '"\\/\\b\\f\\n\\r\\t\\"\\\\"',
    '[12345678901234567890123, 1e400, 5.000]',
    'true',
    'false',
    '""',
    '[]',
    '{}',
    '{"type":"rtc-description","description":{"type":"offer","sdp":"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n"}}',
  ];
  for (const [i, d] of datas.entries()) {
    const ack = await rawNext(pub, `{"type":"publish","channel":"raw","requestId":"raw${i}","data":${d}}`);
    assert.deepEqual(ack, { type: 'ack', requestId: `raw${i}` }, d);
    const m = await rx.next('message');
    const text = rx.raw(m);
    assert.ok(text.includes(`"data":${d}`), `data ${d} not relayed verbatim: ${text}`);
    assert.equal(m.channel, 'raw');
    assert.equal(m.from, pub.peerId);
  }
  // Same with the data member first and odd spacing in the envelope.
  const d = '{ "x" :12345678901234567890123 }';
  await rawNext(pub, `{ "data" :   ${d}   , "channel":"raw", "type" : "publish" , "requestId":"rawlast"}`);
  const m = await rx.next('message');
  assert.ok(rx.raw(m).includes(`"data":${d}`), rx.raw(m));
});

test('message frame shape: exactly type, channel, from, data (no fromMetadata for publishable keys)', async () => {
  const pub = await client();
  const rx = await client();
  await subscribe(rx, 'shape', { includeSenderMetadata: true });
  await expectAck(pub, { type: 'publish', channel: 'shape', data: { hi: 1 } });
  const m = await rx.next('message');
  assert.deepEqual(m, { type: 'message', channel: 'shape', from: pub.peerId, data: { hi: 1 } });
  assert.deepEqual(Object.keys(m).sort(), ['channel', 'data', 'from', 'type']);
});

test('messages from one publisher on one channel arrive in publish order', async () => {
  const pub = await client();
  const rx1 = await client();
  const rx2 = await client();
  await subscribe(rx1, 'fifo');
  await subscribe(rx2, 'fifo');
  await rx1.next('presence');
  for (let i = 0; i < 100; i++) pub.send({ type: 'publish', channel: 'fifo', data: i });
  await pingBarrier(pub);
  for (const rx of [rx1, rx2]) {
    for (let i = 0; i < 100; i++) assert.equal((await rx.next('message')).data, i);
  }
});

test('channel names with quotes, backslashes, unicode and control-free oddities round-trip', async () => {
  const pub = await client();
  const rx = await client();
  for (const channel of ['a"b\\c', '</script>', '\u2028\u2029', 'tab\\t', '{"x":1}', 'é🔑/x']) {
    const snap = await subscribe(rx, channel);
    assert.equal(snap.channel, channel);
    await expectAck(pub, { type: 'publish', channel, data: channel });
    assert.deepEqual(await rx.next('message'), { type: 'message', channel, from: pub.peerId, data: channel });
  }
});

test('a publish acknowledged before a subscribe is not delivered to that subscriber', async () => {
  const pub = await client();
  for (let i = 0; i < 20; i++) await expectAck(pub, { type: 'publish', channel: 'before', data: i });
  const rx = await client();
  await subscribe(rx, 'before');
  await rx.none('message', 300);
  await expectAck(pub, { type: 'publish', channel: 'before', data: 'after' });
  assert.equal((await rx.next('message')).data, 'after');
});
