// PROTOCOL.md §5.1, §12 and RFC 6455: WebSocket framing as parleyd must handle it, driven by a raw
// TCP client that writes hand-built frames (tests/lib/rawws.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { sharedRawServer } from '../lib/confbuild.mjs';
import { RawWs, OP, buildFrame, textFrame, pingFrame, closePayload } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';

const CAP = 65536 + 4096; // maxMessageSize + envelopeHeadroom, the defaults (§5.1, §20)

let srv;
const open = sharedRawServer({}, (started) => { srv = started; });

// Every frame parleyd sends is unmasked with RSV bits clear; data frames are unfragmented text.
function assertServerFrames(c) {
  for (const f of c.all) {
    assert.equal(f.masked, false, 'server frames are unmasked');
    assert.equal(f.rsv, 0, 'server frames have no RSV bit');
    if (f.opcode === OP.text || f.opcode === OP.cont) {
      assert.equal(f.opcode, OP.text, 'server data frames are text');
      assert.equal(f.fin, true, 'server messages are unfragmented');
      assert.equal(f.reassembled, undefined, 'server messages are unfragmented');
    }
    assert.notEqual(f.opcode, OP.binary, 'no binary frames from the server');
  }
}

// A fatal condition: a close frame with exactly this code and reason, no error frame before it;
// after the client answers the close, the TCP connection ends.
async function expectFatal(c, code, reason, what = '') {
  const cl = await c.closed(5000);
  assert.deepEqual(cl, { code, reason }, `close for ${what}`);
  const errors = c.all.filter((f) => f.json?.type === 'error');
  assert.deepEqual(errors.map((f) => f.json), [], `no error frame before a fatal close (${what})`);
  assertServerFrames(c);
  c.sendClose(code);
  const e = await c.end(7000);
  assert.ok(e, 'TCP connection ended');
}

test('a binary message closes 1003 "binary frames not supported"', async () => {
  const cases = {
    'binary frame': { opcode: OP.binary, payload: Buffer.from('{"type":"ping"}') },
    'empty binary frame': { opcode: OP.binary, payload: Buffer.alloc(0) },
    'first fragment of a binary message': { opcode: OP.binary, fin: false, payload: Buffer.from([1, 2, 3]) },
  };
  for (const [name, frame] of Object.entries(cases)) {
    const c = await open();
    c.sendFrame(frame);
    await expectFatal(c, 1003, 'binary frames not supported', name);
  }
});

test('data frames received after parleyd sent its close are ignored', async () => {
  const c = await open();
  c.sendFrame({ opcode: OP.binary, payload: Buffer.from([0]) });
  assert.deepEqual(await c.closed(), { code: 1003, reason: 'binary frames not supported' });
  c.sendText({ type: 'ping' });
  c.sendText({ type: 'subscribe', channel: 'late', requestId: 'late' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(c.all.filter((f) => f.opcode === OP.text).map((f) => f.json.type), ['welcome']);
  c.sendClose(1003);
  await c.end(7000);
});

test('parleyd drops the TCP connection at most 5 s after its close frame when the client never answers', async () => {
  const c = await open();
  c.sendFrame({ opcode: OP.binary, payload: Buffer.from([0]) });
  await c.closed();
  const t0 = Date.now();
  const e = await c.end(9000);
  assert.ok(e.at - t0 <= 7000, `dropped after ${e.at - t0} ms`);
});

test('invalid UTF-8 in a text message closes 1007 "invalid utf-8"', async () => {
  const cases = {
    'byte 0xff': Buffer.from([0x7b, 0xff, 0x7d]),
    'overlong encoding': Buffer.from([0x22, 0xc0, 0xaf, 0x22]),
    'UTF-16 surrogate': Buffer.concat([Buffer.from('{"type":"ping","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    'code point above U+10FFFF': Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    'truncated sequence at the end': Buffer.concat([Buffer.from('{"type":"ping"}'), Buffer.from([0xe2, 0x82])]),
    'lone continuation byte': Buffer.from([0x80]),
  };
  for (const [name, payload] of Object.entries(cases)) {
    const c = await open();
    c.sendFrame({ opcode: OP.text, payload });
    await expectFatal(c, 1007, 'invalid utf-8', name);
  }
  // In a fragmented message too, even when each fragment is short.
  const c = await open();
  c.sendFrame({ opcode: OP.text, fin: false, payload: '{"type":"ping","x":"' });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: Buffer.from([0xff]) });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: '"}' });
  await expectFatal(c, 1007, 'invalid utf-8', 'fragmented');
});

test('a multi-byte character split across fragments is valid UTF-8', async () => {
  const c = await open();
  const euro = Buffer.from('€'); // e2 82 ac
  c.sendFrame({ opcode: OP.text, fin: false, payload: Buffer.concat([Buffer.from('{"type":"subscribe","channel":"x'), euro.subarray(0, 1)]) });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: euro.subarray(1, 2) });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: Buffer.concat([euro.subarray(2), Buffer.from('","requestId":"u1"}')]) });
  const r = await c.nextJson((j) => j?.requestId === 'u1');
  assert.deepEqual(r, { type: 'ack', requestId: 'u1' });
  assertServerFrames(c);
});

// A publish frame of exactly `size` bytes whose data text is `dataLen` bytes (a JSON string).
function sizedPublish(size, dataLen, requestId, channel = 'big') {
  const data = `"${'d'.repeat(dataLen - 2)}"`;
  const head = `{"type":"publish","channel":"${channel}","requestId":"${requestId}","data":${data},"pad":"`;
  const tail = '"}';
  const padLen = size - Buffer.byteLength(head) - tail.length;
  assert.ok(padLen >= 0);
  const s = head + 'p'.repeat(padLen) + tail;
  assert.equal(Buffer.byteLength(s), size);
  return s;
}

test('a message of exactly 69632 bytes is not closed and is handled', async () => {
  const sub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await sub.request({ type: 'subscribe', channel: 'big' })).type, 'ack');
  const c = await open();
  // data text at maxMessageSize exactly, envelope filling the headroom: accepted (§5.1 compat note).
  c.sendText(sizedPublish(CAP, 65536, 'exact1'));
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'exact1'), { type: 'ack', requestId: 'exact1' });
  const m = await sub.next('message');
  assert.equal(JSON.stringify(m.data).length, 65536);
  // The same size in three fragments.
  const s = sizedPublish(CAP, 100, 'exact2');
  c.sendFrame({ opcode: OP.text, fin: false, payload: s.slice(0, 30000) });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: s.slice(30000, 60000) });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: s.slice(60000) });
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'exact2'), { type: 'ack', requestId: 'exact2' });
  // data over maxMessageSize in a 69632-byte frame: an error frame at most, never a close.
  c.sendText(sizedPublish(CAP, 65537, 'exact3'));
  const r = await c.nextJson((j) => j?.requestId === 'exact3');
  assert.equal(r.type, 'error');
  assert.equal(r.code, 'payload_too_large');
  c.sendText({ type: 'ping' });
  await c.nextJson('pong');
  assert.equal(c.closeFrame, null);
  assertServerFrames(c);
  await sub.close();
});

test('a message over 69632 bytes closes 1009 "frame too large"', async () => {
  // One frame of CAP + 1 bytes.
  let c = await open();
  c.sendText(sizedPublish(CAP + 1, 100, 'over1'));
  await expectFatal(c, 1009, 'frame too large', 'single frame');

  // Fragments each below the cap whose total exceeds it.
  c = await open();
  const s = sizedPublish(CAP + 1, 100, 'over2');
  c.sendFrame({ opcode: OP.text, fin: false, payload: s.slice(0, 30000) });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: s.slice(30000, 60000) });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: s.slice(60000) });
  await expectFatal(c, 1009, 'frame too large', 'fragments');

  // Many small fragments.
  c = await open();
  c.sendFrame({ opcode: OP.text, fin: false, payload: '{"type":"ping","x":"' });
  for (let i = 0; i < 70; i++) c.sendFrame({ opcode: OP.cont, fin: false, payload: 'y'.repeat(1000) });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: '"}' });
  await expectFatal(c, 1009, 'frame too large', 'many fragments');
});

test('an oversized message is refused from its header, without waiting for its payload', async () => {
  // The frame announces 16 MiB (64-bit length) but only 1000 bytes follow.
  let c = await open();
  c.write(buildFrame({ opcode: OP.text, payload: Buffer.alloc(1000, 0x20), length: 16 << 20 }));
  await expectFatal(c, 1009, 'frame too large', '64-bit length header');
  // A continuation that announces more than the remaining room.
  c = await open();
  c.sendFrame({ opcode: OP.text, fin: false, payload: '{"type":"ping","x":"' });
  c.write(buildFrame({ opcode: OP.cont, fin: true, payload: Buffer.alloc(10, 0x20), length: CAP }));
  await expectFatal(c, 1009, 'frame too large', 'continuation header');
});

test('a fragmented text message with a ping interleaved is reassembled and handled', async () => {
  const c = await open();
  const msg = '{"type":"subscribe","channel":"frag-room","requestId":"frag1"}';
  c.sendFrame({ opcode: OP.text, fin: false, payload: msg.slice(0, 10) });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: msg.slice(10, 30) });
  c.write(pingFrame('mid-message'));
  c.sendFrame({ opcode: OP.cont, fin: true, payload: msg.slice(30) });
  const pong = await c.nextFrame((f) => f.opcode === OP.pong);
  assert.equal(pong.payload.toString(), 'mid-message');
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'frag1'), { type: 'ack', requestId: 'frag1' });
  // The subscription is real: a publish reaches it.
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await pub.request({ type: 'publish', channel: 'frag-room', data: { ok: 1 } })).type, 'ack');
  const m = await c.nextJson('message');
  assert.deepEqual(m, { type: 'message', channel: 'frag-room', from: pub.peerId, data: { ok: 1 } });
  // Empty fragments are legal.
  c.sendFrame({ opcode: OP.text, fin: false, payload: '' });
  c.sendFrame({ opcode: OP.cont, fin: false, payload: '{"type":"ping"}' });
  c.sendFrame({ opcode: OP.cont, fin: true, payload: '' });
  await c.nextJson('pong');
  assert.equal(c.closeFrame, null);
  assertServerFrames(c);
  await pub.close();
});

test('RFC 6455 framing violations close 1002 "protocol error"', async () => {
  const ping = '{"type":"ping"}';
  const cases = {
    'unmasked text frame': [buildFrame({ opcode: OP.text, mask: false, payload: ping })],
    'unmasked ping': [buildFrame({ opcode: OP.ping, mask: false, payload: 'x' })],
    'RSV1 set': [buildFrame({ opcode: OP.text, rsv: 4, payload: ping })],
    'RSV2 set': [buildFrame({ opcode: OP.text, rsv: 2, payload: ping })],
    'RSV3 set': [buildFrame({ opcode: OP.text, rsv: 1, payload: ping })],
    'RSV1 on a ping': [buildFrame({ opcode: OP.ping, rsv: 4, payload: '' })],
    'opcode 3': [buildFrame({ opcode: 3, payload: ping })],
    'opcode 7': [buildFrame({ opcode: 7, payload: '' })],
    'opcode 0xB': [buildFrame({ opcode: 0xb, payload: '' })],
    'opcode 0xF': [buildFrame({ opcode: 0xf, payload: '' })],
    'ping with a 126-byte payload': [buildFrame({ opcode: OP.ping, payload: Buffer.alloc(126, 0x61) })],
    'close with a 126-byte payload': [buildFrame({ opcode: OP.close, payload: closePayload(1000, 'r'.repeat(124)) })],
    'fragmented ping': [buildFrame({ opcode: OP.ping, fin: false, payload: 'a' })],
    'fragmented pong': [buildFrame({ opcode: OP.pong, fin: false, payload: 'a' })],
    'continuation without a start': [buildFrame({ opcode: OP.cont, fin: true, payload: ping })],
    'unfinished continuation without a start': [buildFrame({ opcode: OP.cont, fin: false, payload: '{' })],
    'new text frame while a fragmented message is open': [
      buildFrame({ opcode: OP.text, fin: false, payload: '{"type":' }),
      buildFrame({ opcode: OP.text, fin: true, payload: ping }),
    ],
    'new binary frame while a fragmented message is open': [
      buildFrame({ opcode: OP.text, fin: false, payload: '{"type":' }),
      buildFrame({ opcode: OP.binary, fin: true, payload: 'x' }),
    ],
    'close with a 1-byte payload': [buildFrame({ opcode: OP.close, payload: Buffer.from([3]) })],
    'non-minimal 16-bit length': [buildFrame({ opcode: OP.text, payload: ping, lenBits: 16 })],
    'non-minimal 64-bit length': [buildFrame({ opcode: OP.text, payload: ping, lenBits: 64 })],
    '64-bit length with the most significant bit set': [buildFrame({ opcode: OP.text, payload: ping, length: 2 ** 63 })],
  };
  for (const [name, frames] of Object.entries(cases)) {
    const c = await open();
    c.write(Buffer.concat(frames));
    await expectFatal(c, 1002, 'protocol error', name);
  }
});

test('a protocol ping is answered with a pong carrying the same payload', async () => {
  const c = await open();
  for (const payload of [Buffer.alloc(0), Buffer.from('hello'), Buffer.from([0, 1, 2, 0xff, 0xfe]), Buffer.alloc(125, 0x7a)]) {
    c.write(pingFrame(payload));
    const pong = await c.nextFrame((f) => f.opcode === OP.pong);
    assert.ok(pong.fin, 'pong is one frame');
    assert.deepEqual(pong.payload, payload);
  }
  // Pings do not disturb request handling.
  assert.deepEqual(await c.request({ type: 'subscribe', channel: 'p', requestId: 'p1' }), { type: 'ack', requestId: 'p1' });
  assertServerFrames(c);
});

test('an unsolicited pong is ignored', async () => {
  const c = await open();
  c.sendFrame({ opcode: OP.pong, payload: 'unsolicited' });
  c.sendText({ type: 'ping' });
  await c.nextJson('pong');
  assert.equal(c.closeFrame, null);
});

test('a client close is echoed with the same code, then the TCP connection ends', async () => {
  for (const [code, reason] of [[1000, ''], [1000, 'bye'], [1001, 'leaving'], [4000, 'client timeout'], [3000, ''], [4999, 'x']]) {
    const c = await open();
    c.sendClose(code, reason);
    const cl = await c.closed();
    assert.equal(cl.code, code, `echo of ${code}`);
    const e = await c.end(7000);
    assert.ok(e);
    // Nothing but the welcome and the close.
    assert.deepEqual(c.all.map((f) => f.opcode), [OP.text, OP.close]);
    assertServerFrames(c);
  }
});

test('a close with an invalid code closes 1002 "protocol error"', async () => {
  for (const code of [999, 0, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    const c = await open();
    c.write(buildFrame({ opcode: OP.close, payload: closePayload(code, '') }));
    const cl = await c.closed();
    assert.deepEqual(cl, { code: 1002, reason: 'protocol error' }, `close code ${code}`);
    await c.end(7000);
  }
});

test('frames written in the same packet as the handshake are processed after the welcome', async () => {
  const c = await open({
    early: [
      textFrame('{"type":"ping"}'),
      textFrame('{"type":"subscribe","channel":"early","requestId":"e1"}'),
      pingFrame('early-ping'),
    ],
  });
  // open() waited for the welcome; it must have been the first text frame.
  const texts = c.all.filter((f) => f.opcode === OP.text).map((f) => f.json);
  assert.equal(texts[0].type, 'welcome');
  assert.deepEqual(await c.nextJson('pong'), { type: 'pong' });
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'e1'), { type: 'ack', requestId: 'e1' });
  const pong = await c.nextFrame((f) => f.opcode === OP.pong);
  assert.equal(pong.payload.toString(), 'early-ping');
  const order = c.all.filter((f) => f.opcode === OP.text).map((f) => f.json.type);
  assert.deepEqual(order.slice(0, 3), ['welcome', 'pong', 'ack']);
});

test('frames written right after the handshake, before the response, are processed after the welcome', async () => {
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const c = await open({
    after: [
      textFrame('{"type":"subscribe","channel":"early2","requestId":"a1"}'),
      textFrame('{"type":"ping"}'),
    ],
  });
  const order = [];
  order.push((await c.nextJson((j) => j?.requestId === 'a1')).type);
  order.push((await c.nextJson('pong')).type);
  assert.deepEqual(order, ['ack', 'pong']);
  assert.equal(c.all.find((f) => f.opcode === OP.text).json.type, 'welcome');
  assert.equal((await pub.request({ type: 'publish', channel: 'early2', data: 7 })).type, 'ack');
  assert.equal((await c.nextJson('message')).data, 7);
  await pub.close();
});

test('early frames are discarded when admission fails: only a close is sent', async (t) => {
  const c = await RawWs.connect(srv, {
    key: 'pk_live_doesnotexist000000000000000000000',
    early: [textFrame('{"type":"ping"}'), textFrame('{"type":"subscribe","channel":"x","requestId":"z"}'), pingFrame('')],
  });
  t.after(() => c.destroy());
  assert.equal(c.response.status, 101);
  const cl = await c.closed();
  assert.deepEqual(cl, { code: 4001, reason: 'invalid_key' });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(c.all.filter((f) => f.opcode === OP.text).map((f) => f.text), [], 'no text frame before or after the close');
});

test('frames that arrive together in one TCP segment, and frames after them, are all processed', async () => {
  // Several requests in one write, then (once they are answered) one more frame: the connection
  // must keep reading. Repeated, because how the batch is split between reads varies.
  const c = await open();
  for (let round = 0; round < 25; round++) {
    const n = 2 + (round % 4);
    const batch = [];
    for (let i = 0; i < n; i++) {
      const kind = i % 2 === 0 ? 'publish' : 'subscribe';
      const frame = kind === 'publish'
        ? { type: 'publish', channel: `batch-${round}`, data: { i }, requestId: `b${round}-${i}` }
        : { type: 'subscribe', channel: `batch-${round}-${i}`, requestId: `b${round}-${i}` };
      batch.push(textFrame(JSON.stringify(frame)));
    }
    c.write(Buffer.concat(batch));
    for (let i = 0; i < n; i++) {
      assert.equal((await c.nextJson((j) => j?.requestId === `b${round}-${i}`, 3000)).type, 'ack', `round ${round}, frame ${i}`);
    }
    c.sendText({ type: 'ping' });
    await c.nextJson('pong', 3000).catch((e) => { throw new Error(`round ${round}: a ping sent after a batch of ${n} frames was never answered: ${e.message}`); });
    for (let i = 1; i < n; i += 2) c.sendText({ type: 'unsubscribe', channel: `batch-${round}-${i}` });
  }
  // Unsubscribes without requestId produce nothing; a final request proves everything was read.
  assert.equal((await c.request({ type: 'subscribe', channel: 'batch-end', requestId: 'bend' }, 3000)).type, 'ack');
});
