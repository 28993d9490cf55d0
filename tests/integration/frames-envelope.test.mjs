// Envelope validation (PROTOCOL.md §5.2, §5.3, §6.5, §11): parse errors, requestId rules, type
// rules, requestId echo, ping, and that an error never closes the connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, assertError, pingBarrier, rawNext, ALL } from '../lib/proto.mjs';

const PK = 'pk_live_envelope00000000000000000000000001';
let srv;
let c; // one connection shared by the tests: it must survive every error
before(async () => {
  srv = await startParleyd({ config: configFor([{ id: 'env', keys: [{ type: 'publishable', id: PK, actions: ALL }] }]) });
  c = await RawClient.open(srv.ws, { key: PK });
});
after(async () => {
  await c?.close().catch(() => {});
  await srv?.stop();
});

// Sends `text`, expects exactly one error `code` (with/without requestId) and nothing else before
// the next pong.
async function expectRawError(text, code, requestId) {
  const f = await rawNext(c, text);
  assertError(f, code, requestId);
  await pingBarrier(c);
  assert.equal(c.closed, null, 'an error frame never closes the connection');
}

const nest = (n, inner = '0') => '['.repeat(n) + inner + ']'.repeat(n);

test('not JSON → malformed_message without requestId', async () => {
  for (const text of ['{', 'hello', '{"type":"ping",}', '{"type":"ping"} x', '{"requestId":"r1","type":"ping"', "{'type':'ping'}", '', ' ', '{"type":"ping","requestId":"r"}{}', 'NaN']) {
    await expectRawError(text, 'malformed_message');
  }
});

test('strict JSON: invalid values anywhere in the frame (also inside data) → malformed_message', async () => {
  const bad = [
    '01', '1.', '.5', '-', '+1', '1e', '0x10', 'NaN', 'Infinity', '-Infinity', 'tru', 'nul', 'True', 'undefined',
    '"\\x"', '"\\u12"', '"\\u12G4"', '"a\tb"', '"a\nb"', '"a\u0001b"', "'s'", '[1,]', '[,1]', '[1 2]', '{"a":1,}',
    '{"a" 1}', '{a:1}', '{"a":1 "b":2}', '[1]]', '"unterminated', '/* c */1', '1 // c',
  ];
  for (const [i, v] of bad.entries()) {
    // Every one of these sits in the data of an otherwise valid publish with a valid requestId.
    await expectRawError(`{"type":"publish","channel":"strict","requestId":"j${i}","data":${v}}`, 'malformed_message');
  }
  // And as an ignored member of a ping.
  await expectRawError('{"type":"ping","x":01}', 'malformed_message');
  await expectRawError('{"type":"ping","x":[1,]}', 'malformed_message');
});

test('valid JSON edge cases are accepted', async () => {
  for (const v of ['1e999999', '-0', '0e0', '1E-5', '"\\u0000"', '"\\uD834\\uDD1E"', '[[],{},""]', '{"":""}', '"\\/"']) {
    const f = await rawNext(c, `{"type":"publish","channel":"strict","requestId":"v","data":${v}}`);
    assert.deepEqual(f, { type: 'ack', requestId: 'v' }, `data ${v}`);
  }
  c.send('{"\\u0074ype":"ping"}');
  assert.deepEqual(await c.next(() => true), { type: 'pong' });
});

test('top-level value that is not an object → malformed_message without requestId', async () => {
  for (const text of ['[]', '[{"type":"ping","requestId":"r"}]', '1', '-2.5', '"ping"', 'null', 'true']) {
    await expectRawError(text, 'malformed_message');
  }
});

test('nesting deeper than 64 levels → malformed_message without requestId; 64 levels accepted', async () => {
  // {"a": [63 arrays]} is 64 levels; 64 arrays make 65.
  await expectRawError(`{"requestId":"deep","type":"ping","a":${nest(64)}}`, 'malformed_message');
  await expectRawError(`{"a":${nest(64)},"requestId":"deep","type":"subscribe","channel":"x"}`, 'malformed_message');
  await expectRawError(`{"a":${nest(40, '{"b":' + nest(23) + '}')},"requestId":"deep2","type":"publish","channel":"x","data":1}`, 'malformed_message');
  // 65 levels inside data.
  await expectRawError(`{"type":"publish","channel":"deep","requestId":"deep3","data":${nest(64)}}`, 'malformed_message');

  // Objects count as levels too.
  const objs = (n) => '{"a":'.repeat(n) + '0' + '}'.repeat(n);
  await expectRawError(`{"requestId":"deepo","type":"ping","x":${objs(64)}}`, 'malformed_message');
  c.send(`{"type":"ping","x":${objs(63)}}`);
  assert.deepEqual(await c.next(() => true), { type: 'pong' });

  // 64 levels: an unknown member is ignored, the ping is answered.
  c.send(`{"type":"ping","a":${nest(63)}}`);
  assert.deepEqual(await c.next(() => true), { type: 'pong' });
  // 64 levels inside a publish's data: accepted and relayed verbatim.
  const rx = await RawClient.open(srv.ws, { key: PK });
  rx.send({ type: 'subscribe', channel: 'deep', requestId: 's' });
  await rx.next('presence');
  const data = nest(63);
  const ack = await rawNext(c, `{"type":"publish","channel":"deep","requestId":"d64","data":${data}}`);
  assert.deepEqual(ack, { type: 'ack', requestId: 'd64' });
  const m = await rx.next('message');
  assert.ok(rx.raw(m).includes(`"data":${data}`), rx.raw(m));
  await rx.close();
});

test('duplicate top-level member → malformed_message without requestId', async () => {
  await expectRawError('{"type":"ping","type":"ping"}', 'malformed_message');
  await expectRawError('{"requestId":"dup1","type":"subscribe","channel":"a","channel":"b"}', 'malformed_message');
  await expectRawError('{"requestId":"dup2","requestId":"dup2","type":"subscribe","channel":"a"}', 'malformed_message');
  await expectRawError('{"requestId":"dup3","type":"publish","channel":"a","data":1,"data":2}', 'malformed_message');
  // One of the two written with a \u escape is still the same member name.
  await expectRawError('{"requestId":"dup4","type":"ping","\\u0074ype":"ping"}', 'malformed_message');
  await expectRawError('{"requestId":"dup5","type":"subscribe","channel":"a","\\u0063hannel":"b"}', 'malformed_message');
  await expectRawError('{"\\u0072equestId":"dup6","requestId":"dup6","type":"ping"}', 'malformed_message');
});

test('whitespace around the top-level object is allowed', async () => {
  c.send(' \n\t{"type":"ping"} \r\n ');
  assert.deepEqual(await c.next(() => true), { type: 'pong' });
  const f = await rawNext(c, '\n{ "requestId" : "ws1" , "type" : "unsubscribe" , "channel" : "x" }\n');
  assert.deepEqual(f, { type: 'ack', requestId: 'ws1' });
});

test('duplicate members below the top level are not an envelope error', async () => {
  const f = await rawNext(c, '{"type":"publish","channel":"nested-dup","requestId":"nd","data":{"a":1,"a":2}}');
  assert.deepEqual(f, { type: 'ack', requestId: 'nd' });
});

test('requestId that is not a string → malformed_message without requestId', async () => {
  for (const v of ['5', 'null', 'true', '{}', '["r"]', '1.5']) {
    await expectRawError(`{"type":"subscribe","channel":"x","requestId":${v}}`, 'malformed_message');
  }
});

test('requestId over 128 bytes → malformed_message without requestId; 128 bytes accepted', async () => {
  await expectRawError(JSON.stringify({ type: 'subscribe', channel: 'x', requestId: 'r'.repeat(129) }), 'malformed_message');
  // 65 UTF-16 units but 129 UTF-8 bytes.
  await expectRawError(JSON.stringify({ type: 'subscribe', channel: 'x', requestId: `${'é'.repeat(64)}a` }), 'malformed_message');
  // The check comes before the type checks.
  await expectRawError(JSON.stringify({ type: 'nonsense', requestId: 'r'.repeat(129) }), 'malformed_message');
  await expectRawError(JSON.stringify({ requestId: 5 }), 'malformed_message');

  for (const id of ['r'.repeat(128), 'é'.repeat(64)]) {
    const f = await rawNext(c, JSON.stringify({ type: 'unsubscribe', channel: 'x', requestId: id }));
    assert.deepEqual(f, { type: 'ack', requestId: id });
  }
  // 128 bytes once decoded, although its JSON text is longer.
  const escaped = '\\u00e9'.repeat(64);
  const f = await rawNext(c, `{"type":"unsubscribe","channel":"x","requestId":"${escaped}"}`);
  assert.deepEqual(f, { type: 'ack', requestId: 'é'.repeat(64) });
});

test('missing or non-string type → malformed_message WITH the valid requestId', async () => {
  await expectRawError('{"requestId":"t1"}', 'malformed_message', 't1');
  await expectRawError('{"requestId":"t2","channel":"x"}', 'malformed_message', 't2');
  for (const [i, v] of ['5', 'null', 'true', '["ping"]', '{"type":"ping"}'].entries()) {
    await expectRawError(`{"requestId":"t3-${i}","type":${v}}`, 'malformed_message', `t3-${i}`);
  }
  await expectRawError('{}', 'malformed_message');
  await expectRawError('{"type":5}', 'malformed_message');
});

test('unknown type → unknown_type, with the requestId when valid', async () => {
  await expectRawError('{"type":"bogus","requestId":"u1"}', 'unknown_type', 'u1');
  await expectRawError('{"type":"Ping","requestId":"u2"}', 'unknown_type', 'u2');
  await expectRawError('{"type":"welcome","requestId":"u3"}', 'unknown_type', 'u3');
  await expectRawError('{"type":"","requestId":"u4"}', 'unknown_type', 'u4');
  await expectRawError('{"type":"ping "}', 'unknown_type');
  // Unknown type wins over type-specific problems.
  await expectRawError('{"type":"bogus","requestId":"u5","channel":5}', 'unknown_type', 'u5');
});

test('requestId is echoed exactly', async () => {
  const ids = ['ключ-🔑-é', 'a"b\\c', 'tab\there', '\u0000nul', '', ' ', '</script>', 'x'.repeat(127)];
  for (const id of ids) {
    // ack
    let f = await rawNext(c, JSON.stringify({ type: 'unsubscribe', channel: 'echo', requestId: id }));
    assert.deepEqual(f, { type: 'ack', requestId: id });
    // error
    f = await rawNext(c, JSON.stringify({ type: 'unsubscribe', channel: '', requestId: id }));
    assertError(f, 'invalid_channel', id);
  }
  // An escaped form of the requestId is echoed as the same string.
  const f = await rawNext(c, '{"type":"unsubscribe","channel":"echo","requestId":"\\u0041\\"\\ud83d\\udd11"}');
  assert.deepEqual(f, { type: 'ack', requestId: 'A"🔑' });
});

test('ping is answered with exactly {"type":"pong"}, even with a requestId', async () => {
  c.send('{"type":"ping"}');
  let f = await c.next(() => true);
  assert.equal(c.raw(f), '{"type":"pong"}');
  c.send('{"type":"ping","requestId":"p1"}');
  f = await c.next(() => true);
  assert.equal(c.raw(f), '{"type":"pong"}');
  c.send('{"type":"ping","requestId":"p2","channel":5,"data":{"x":1}}');
  f = await c.next(() => true);
  assert.equal(c.raw(f), '{"type":"pong"}');
  await c.none((x) => x.type === 'ack' || x.type === 'error', 300);
});

test('a ping with an invalid requestId is a malformed_message', async () => {
  await expectRawError('{"type":"ping","requestId":7}', 'malformed_message');
});

test('without requestId: success produces no response, failure an error without requestId', async () => {
  c.send({ type: 'unsubscribe', channel: 'quiet' });
  c.send({ type: 'publish', channel: 'quiet', data: 1 });
  await pingBarrier(c); // nothing but the pong
  c.send({ type: 'publish', channel: 'a*b', data: 1 });
  assertError(await c.next(() => true), 'invalid_channel');
  await pingBarrier(c);
});

test('responses come in request order', async () => {
  const ids = Array.from({ length: 30 }, (_, i) => `o${i}`);
  for (const [i, id] of ids.entries()) {
    if (i % 3 === 0) c.send({ type: 'publish', channel: 'order', data: i, requestId: id });
    else if (i % 3 === 1) c.send({ type: 'publish', channel: '', data: i, requestId: id });
    else c.send({ type: 'unsubscribe', channel: 'order', requestId: id });
  }
  for (const [i, id] of ids.entries()) {
    const f = await c.next(() => true);
    assert.equal(f.requestId, id, `response ${i} out of order: ${JSON.stringify(f)}`);
    assert.equal(f.type, i % 3 === 1 ? 'error' : 'ack');
  }
});

test('unknown members are ignored in every request type', async () => {
  const extra = { foo: 1, bar: { baz: [1, 2] }, to: 'x', channelz: '', Type: 'nope' };
  let f = await rawNext(c, JSON.stringify({ type: 'subscribe', channel: 'ign', requestId: 'i1', data: 5, ...extra }));
  assert.deepEqual(f, { type: 'ack', requestId: 'i1' });
  assert.equal((await c.next(() => true)).type, 'presence');
  f = await rawNext(c, JSON.stringify({ type: 'publish', channel: 'ign', data: 1, requestId: 'i2', includeSenderMetadata: 'not-checked-here', ...extra }));
  assert.deepEqual(f, { type: 'ack', requestId: 'i2' });
  f = await rawNext(c, JSON.stringify({ type: 'unsubscribe', channel: 'ign', requestId: 'i3', includeSenderMetadata: 5, ...extra }));
  assert.deepEqual(f, { type: 'ack', requestId: 'i3' });
  f = await rawNext(c, JSON.stringify({ type: 'send', to: c.peerId, data: 1, requestId: 'i4', channel: 5, ...extra, to: c.peerId }));
  assertError(f, 'peer_not_found', 'i4');
});

test('the connection still works after all the errors above', async () => {
  assert.equal(c.closed, null);
  const rx = await RawClient.open(srv.ws, { key: PK });
  const ack = await rx.request({ type: 'subscribe', channel: 'after-errors' });
  assert.equal(ack.type, 'ack');
  assert.deepEqual(await c.request({ type: 'publish', channel: 'after-errors', data: { ok: true }, requestId: 'fin' }), { type: 'ack', requestId: 'fin' });
  const m = await rx.next('message');
  assert.deepEqual(m, { type: 'message', channel: 'after-errors', from: c.peerId, data: { ok: true } });
  await rx.close();
});
