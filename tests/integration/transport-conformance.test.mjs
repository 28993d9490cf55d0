// RFC 6455 conformance beyond transport-frames.test.mjs: the close handshake in both directions
// (§5.5.1, §7), control frames interleaved in fragmented messages (§5.4, §5.5), delivery split at
// every byte, masking keys, and pings from a client that does not read (§5.5.2, §5.5.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { sharedRawServer } from '../lib/confbuild.mjs';
import { OP, buildFrame, closePayload, pingFrame } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';

let srv;
const open = sharedRawServer({}, (started) => { srv = started; });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (payload, fin = true, extra = {}) => buildFrame({ opcode: OP.text, fin, payload, ...extra });
const cont = (payload, fin = true) => buildFrame({ opcode: OP.cont, fin, payload });

// The close frame is the last frame parleyd sent, and the TCP connection then ends.
async function closedLast(c, code) {
  const cl = await c.closed();
  assert.equal(cl.code, code);
  const e = await c.end(7000);
  assert.ok(e);
  assert.equal(c.all.at(-1).opcode, OP.close, 'nothing after the close frame');
  return cl;
}

test('client-initiated close: echoed with its code, nothing after it, even with a request in flight', async () => {
  const c = await open();
  const pub = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await c.request({ type: 'subscribe', channel: 'cc-1' })).type, 'ack');
  // A request and the close in one write. Its response may go out before the echoed close or be
  // discarded with the rest of the queue (RFC 6455 §5.5.1 lets the close go out first); nothing
  // may follow the close.
  c.write(Buffer.concat([text('{"type":"subscribe","channel":"cc-2","requestId":"last"}'), buildFrame({ opcode: OP.close, payload: closePayload(1000, 'done') })]));
  await closedLast(c, 1000);
  // Publishes after the close reach nobody on that connection.
  assert.equal((await pub.request({ type: 'publish', channel: 'cc-1', data: 1 })).type, 'ack');
  await sleep(200);
  assert.equal(c.all.filter((f) => f.json?.type === 'message').length, 0);
  await pub.close();
});

test('a close without a payload is answered by a close without a payload', async () => {
  const c = await open();
  c.write(buildFrame({ opcode: OP.close, payload: Buffer.alloc(0) }));
  const cl = await c.closed();
  assert.equal(cl.code, null, 'no status code in the echo');
  assert.equal(c.all.at(-1).payload.length, 0);
  await c.end(7000);
});

test('a close whose reason is not UTF-8 closes 1007', async () => {
  const c = await open();
  c.write(buildFrame({ opcode: OP.close, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from([0xff, 0xfe])]) }));
  assert.deepEqual(await c.closed(), { code: 1007, reason: 'invalid utf-8' });
  c.sendClose(1007);
  await c.end(7000);
});

test('a close in the middle of a fragmented message ends it: the partial message is not handled', async () => {
  const c = await open();
  c.write(text('{"type":"subscribe","channel":"half","requestId":"h"', false));
  c.write(buildFrame({ opcode: OP.close, payload: closePayload(4000, 'bye') }));
  await closedLast(c, 4000);
  assert.equal(c.all.filter((f) => f.json?.requestId === 'h').length, 0);
});

test('server-initiated close: pings and data sent before answering get nothing; the answer ends TCP', async () => {
  const c = await open();
  const victim = c.peerId;
  // DELETE /v1/peers/:id closes the connection with 4020 (a server-initiated close).
  const auth = `Bearer ${defaultKeys.skId}:${defaultKeys.skSecret}`;
  const r = await rawHttp(srv, requestText('DELETE', `/v1/peers/${victim}`, srv, { Authorization: auth, Connection: 'close' }));
  assert.equal(r.status, 200);
  const cl = await c.closed();
  assert.deepEqual(cl, { code: 4020, reason: 'admin_disconnect' });
  const frames = c.all.length;
  c.write(Buffer.concat([pingFrame('after-close'), text('{"type":"ping"}'), buildFrame({ opcode: OP.pong, payload: 'x' })]));
  await sleep(300);
  assert.equal(c.all.length, frames, 'no pong and no data after parleyd sent its close');
  assert.equal(c.ended, null, 'parleyd waits for the close handshake');
  c.sendClose(4020);
  const e = await c.end(7000);
  assert.notEqual(e.how, 'error', `the connection ends cleanly, not by a reset (${JSON.stringify(e)})`);
});

test('control frames interleaved in a fragmented message: pings answered, pongs ignored, message handled', async () => {
  const c = await open();
  const msg = '{"type":"subscribe","channel":"interleaved","requestId":"il"}';
  const parts = [msg.slice(0, 5), msg.slice(5, 20), msg.slice(20, 40), msg.slice(40)];
  c.write(Buffer.concat([
    text(parts[0], false),
    pingFrame('one'),
    buildFrame({ opcode: OP.pong, payload: 'unsolicited' }),
    cont(parts[1], false),
    pingFrame(Buffer.alloc(125, 0x41)),
    pingFrame(''),
    cont(parts[2], false),
    buildFrame({ opcode: OP.pong, payload: '' }),
    cont(parts[3], true),
  ]));
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'il'), { type: 'ack', requestId: 'il' });
  const pongs = c.all.filter((f) => f.opcode === OP.pong).map((f) => f.payload.toString());
  assert.deepEqual(pongs, ['one', 'A'.repeat(125), '']);
  assert.equal(c.closeFrame, null);
});

test('a fragmented message delivered one byte per TCP write is reassembled', async () => {
  const c = await open();
  const msg = '{"type":"subscribe","channel":"byte-by-byte","requestId":"bb","includeSenderMetadata":false}';
  const bytes = Buffer.concat([text(msg.slice(0, 30), false), pingFrame('p'), cont(msg.slice(30, 31), false), cont('', false), cont(msg.slice(31))]);
  for (const b of bytes) {
    c.write(Buffer.from([b]));
    await sleep(1);
  }
  assert.deepEqual(await c.nextJson((j) => j?.requestId === 'bb'), { type: 'ack', requestId: 'bb' });
  assert.equal((await c.nextFrame((f) => f.opcode === OP.pong)).payload.toString(), 'p');
});

test('any masking key works, the all-zero key included', async () => {
  const c = await open();
  for (const [i, key] of [[0, [0, 0, 0, 0]], [1, [0xff, 0xff, 0xff, 0xff]], [2, [1, 2, 3, 4]]].map(([n, k]) => [n, Buffer.from(k)])) {
    c.write(text(`{"type":"subscribe","channel":"mask","requestId":"m${i}"}`, true, { maskKey: key }));
    assert.deepEqual(await c.nextJson((j) => j?.requestId === `m${i}`), { type: 'ack', requestId: `m${i}` });
  }
});

test('an empty text message is valid framing: it is answered malformed_message, not closed', async () => {
  const c = await open();
  c.write(text(''));
  assert.equal((await c.nextJson('error')).code, 'malformed_message');
  c.write(Buffer.concat([text('', false), cont('', true)]));
  assert.equal((await c.nextJson('error')).code, 'malformed_message');
  assert.equal(c.closeFrame, null);
});

test('pings from a client that does not read: the latest is answered and the connection survives', async () => {
  // Regression (hostile ping flood): every 6-byte ping was answered with its own queued 2-byte
  // pong frame (~60 bytes of memory each, counted as 2 against the outbound limit), so a client
  // that never read made parleyd hold ~30x the limit, then closed it 1008 as a slow consumer.
  // RFC 6455 §5.5.3 lets a server answer only the most recent ping.
  const c = await open();
  c.pause();
  const batch = Buffer.concat(Array.from({ length: 8192 }, () => pingFrame(Buffer.alloc(0))));
  for (let i = 0; i < 1200; i++) {
    if (!c.socket.write(batch)) {
      const drained = await Promise.race([new Promise((r) => c.socket.once('drain', () => r(true))), sleep(5000).then(() => false)]);
      if (!drained) break;
    }
  }
  c.write(pingFrame('the-last-one'));
  await sleep(500);
  c.resume();
  const last = await c.nextFrame((f) => f.opcode === OP.pong && f.payload.toString() === 'the-last-one', 60000);
  assert.ok(last);
  assert.equal(c.closeFrame, null, 'not closed as a slow consumer');
  assert.equal((await c.request({ type: 'subscribe', channel: 'after-ping-flood' })).type, 'ack');
});
