// PROTOCOL.md §14.1 and §5.2: the per-connection token bucket (rate_limit_per_second = 1,
// rate_limit_burst = 5 here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { sharedRawServer } from '../lib/confbuild.mjs';
import { OP, textFrame, pingFrame } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';

let srv;
const open = sharedRawServer({ app: { rate_limit_per_second: 1, rate_limit_burst: 5 } }, (started) => { srv = started; });

async function observer(channel) {
  const o = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await o.request({ type: 'subscribe', channel })).type, 'ack');
  return o;
}

const publish = (channel, n) => textFrame(JSON.stringify({ type: 'publish', channel, data: { n }, requestId: `p${n}` }));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The close is 4011 and nothing but `errorsBefore` error frames (answers to earlier malformed
// frames) precedes it: a fatal condition produces a close only (§5.3).
async function expectRateLimited(c, errorsBefore = 0) {
  const cl = await c.closed();
  assert.deepEqual(cl, { code: 4011, reason: 'rate_limited' });
  assert.equal(c.all.filter((f) => f.json?.type === 'error').length, errorsBefore, 'a close only, no error frame for the refused frame');
}

test('the 6th frame sent at once closes 4011 rate_limited and is not processed', async () => {
  const o = await observer('rl-1');
  const c = await open();
  c.write(Buffer.concat([1, 2, 3, 4, 5, 6].map((n) => publish('rl-1', n))));
  for (let n = 1; n <= 5; n++) {
    assert.deepEqual(await c.nextJson((j) => j?.requestId === `p${n}`), { type: 'ack', requestId: `p${n}` });
  }
  await expectRateLimited(c);
  assert.equal(c.all.filter((f) => f.json?.requestId === 'p6').length, 0, 'no response to the 6th frame');
  for (let n = 1; n <= 5; n++) assert.equal((await o.next('message')).data.n, n);
  await o.none('message', 500);
  c.sendClose(4011);
  await c.end(7000);

  // A new connection starts with a full bucket (§9.4).
  const c2 = await open();
  c2.write(Buffer.concat([11, 12, 13, 14, 15].map((n) => publish('rl-1', n))));
  for (let n = 11; n <= 15; n++) assert.equal((await c2.nextJson((j) => j?.requestId === `p${n}`)).type, 'ack');
  assert.equal(c2.closeFrame, null);
  await o.close();
});

test('JSON pings and protocol pings cost no token', async () => {
  const o = await observer('rl-2');
  const c = await open();
  // 20 JSON pings (one with a requestId) and 20 protocol pings, all at once.
  const frames = [];
  for (let i = 0; i < 20; i++) frames.push(textFrame(i === 7 ? '{"type":"ping","requestId":"x"}' : '{"type":"ping"}'), pingFrame(`p${i}`));
  c.write(Buffer.concat(frames));
  for (let i = 0; i < 20; i++) await c.nextJson('pong');
  for (let i = 0; i < 20; i++) {
    const pong = await c.nextFrame((f) => f.opcode === OP.pong);
    assert.equal(pong.payload.toString(), `p${i}`);
  }
  assert.equal(c.closeFrame, null, 'still open after 40 pings');
  // The whole bucket is still there: 5 publishes pass ...
  c.write(Buffer.concat([1, 2, 3, 4, 5].map((n) => publish('rl-2', n))));
  for (let n = 1; n <= 5; n++) assert.equal((await c.nextJson((j) => j?.requestId === `p${n}`)).type, 'ack');
  // ... pings still pass with the bucket empty ...
  c.sendText({ type: 'ping' });
  c.write(pingFrame('empty-bucket'));
  await c.nextJson('pong');
  assert.equal((await c.nextFrame((f) => f.opcode === OP.pong)).payload.toString(), 'empty-bucket');
  // ... and the next non-ping frame is refused.
  c.write(publish('rl-2', 6));
  await expectRateLimited(c);
  for (let n = 1; n <= 5; n++) assert.equal((await o.next('message')).data.n, n);
  await o.none('message', 300);
  await o.close();
});

test('malformed frames cost a token each', async () => {
  const o = await observer('rl-3');
  const c = await open();
  const bad = ['not json', '[]', '"ping"', '{"type":1}', '{"type":"nope","requestId":"u"}'];
  c.write(Buffer.concat([...bad.map((s) => textFrame(s)), publish('rl-3', 1)]));
  for (let i = 0; i < bad.length; i++) await c.nextJson('error');
  await expectRateLimited(c, bad.length);
  assert.equal(c.all.filter((f) => f.json?.requestId === 'p1').length, 0, 'the publish was not processed');
  await o.none('message', 500);
  await o.close();
});

test('the bucket refills at rate_limit_per_second and holds at most rate_limit_burst', async () => {
  const o = await observer('rl-4');
  const c = await open();
  c.write(Buffer.concat([1, 2, 3, 4, 5].map((n) => publish('rl-4', n))));
  for (let n = 1; n <= 5; n++) assert.equal((await c.nextJson((j) => j?.requestId === `p${n}`)).type, 'ack');
  // Empty now; 2.3 s later about 2.3 tokens are back.
  await sleep(2300);
  c.write(Buffer.concat([6, 7].map((n) => publish('rl-4', n))));
  for (let n = 6; n <= 7; n++) assert.equal((await c.nextJson((j) => j?.requestId === `p${n}`)).type, 'ack');
  assert.equal(c.closeFrame, null);
  c.write(publish('rl-4', 8));
  await expectRateLimited(c);
  for (let n = 1; n <= 7; n++) assert.equal((await o.next('message')).data.n, n);
  await o.none('message', 300);

  // After a long quiet period the bucket holds only rate_limit_burst tokens.
  const c2 = await open();
  await sleep(7000);
  c2.write(Buffer.concat([21, 22, 23, 24, 25, 26].map((n) => publish('rl-4', n))));
  for (let n = 21; n <= 25; n++) assert.equal((await c2.nextJson((j) => j?.requestId === `p${n}`)).type, 'ack');
  await expectRateLimited(c2);
  for (let n = 21; n <= 25; n++) assert.equal((await o.next('message')).data.n, n);
  await o.none('message', 300);
  await o.close();
});
