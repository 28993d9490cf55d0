// send / direct (PROTOCOL.md §6.4, §7, §9.2): validation order and codes, the send action on
// publishable keys, peer_not_found (unknown peer, self-send), the direct frame and its data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { configFor, expectError, expectAck, assertError, pingBarrier, rawNext, ALL } from '../lib/proto.mjs';

const K = {
  all: 'pk_live_send000000000000000000000000000all',
  dflt: 'pk_live_send00000000000000000000000default', // no `actions` setting: no send
  noSend: 'pk_live_send0000000000000000000000000nosend',
  onlySend: 'pk_live_send00000000000000000000000onlysend',
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
      id: 'send',
      keys: [
        { type: 'publishable', id: K.all, channels: ['**'], actions: ALL },
        { type: 'publishable', id: K.dflt, channels: ['**'] },
        { type: 'publishable', id: K.noSend, channels: ['**'], actions: ['subscribe', 'publish', 'presence'] },
        { type: 'publishable', id: K.onlySend, channels: [], actions: ['send'] },
      ],
    }]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const str = (n) => `"${'a'.repeat(n - 2)}"`;

test('invalid to → invalid_peer_id', async () => {
  const c = await client();
  const bad = [undefined, '', 'x'.repeat(129), 'é', 'caf\u00e9', 5, null, ['a'], { a: 1 }, 'a\u0000', 'a\tb', 'a\u007f', 'a\u001f', '\u{1F511}'];
  for (const to of bad) {
    const frame = { type: 'send', data: 1 };
    if (to !== undefined) frame.to = to;
    await expectError(c, frame, 'invalid_peer_id');
  }
  // Also checked before missing data.
  await expectError(c, { type: 'send', to: '' }, 'invalid_peer_id');
  const f = await rawNext(c, '{"type":"send","requestId":"sur","to":"\\ud800","data":1}');
  assertError(f, 'invalid_peer_id', 'sur');
});

test('valid but unknown to → peer_not_found (128 bytes, space, tilde)', async () => {
  const c = await client();
  for (const to of ['x'.repeat(128), ' ', '~', 'alice', '00000000-0000-4000-8000-000000000000', c.peerId.toUpperCase()]) {
    await expectError(c, { type: 'send', to, data: 1 }, 'peer_not_found');
  }
});

test('send without data → missing_data; payload size limits', async () => {
  const a = await client();
  const b = await client();
  await expectError(a, { type: 'send', to: b.peerId }, 'missing_data');
  await expectAck(a, { type: 'send', to: b.peerId, data: JSON.parse(str(65536)) });
  const d = await b.next('direct');
  assert.equal(d.data.length, 65534);
  await expectError(a, { type: 'send', to: b.peerId, data: JSON.parse(str(65537)) }, 'payload_too_large');
  // Escapes count as received.
  const esc = `"${'\\u0041'.repeat(10922)}aaa"`; // 65537 bytes
  const f = await rawNext(a, `{"type":"send","requestId":"se","to":"${b.peerId}","data":${esc}}`);
  assertError(f, 'payload_too_large', 'se');
  await b.none('direct', 300);
});

test('a publishable key without send in actions → action_not_permitted (default actions lack send)', async () => {
  const target = await client();
  for (const key of [K.dflt, K.noSend]) {
    const c = await client(key);
    await expectError(c, { type: 'send', to: target.peerId, data: 1 }, 'action_not_permitted');
    // Order: invalid_peer_id, missing_data, payload_too_large come before the action check,
    // peer_not_found after it.
    await expectError(c, { type: 'send', to: '', data: 1 }, 'invalid_peer_id');
    await expectError(c, { type: 'send', to: target.peerId }, 'missing_data');
    await expectError(c, { type: 'send', to: target.peerId, data: JSON.parse(str(65537)) }, 'payload_too_large');
    await expectError(c, { type: 'send', to: 'nobody-here', data: 1 }, 'action_not_permitted');
  }
  await target.none('direct', 300);
  // The default key has subscribe/publish/presence.
  const d = await client(K.dflt);
  await expectAck(d, { type: 'subscribe', channel: 'dflt' });
  assert.equal((await d.next('presence')).type, 'presence');
  await expectAck(d, { type: 'publish', channel: 'dflt', data: 1 });
});

test('self-send with no other connection → peer_not_found', async () => {
  const c = await client();
  await expectError(c, { type: 'send', to: c.peerId, data: 1 }, 'peer_not_found');
  await pingBarrier(c);
});

test('direct frame shape {type:"direct",from,data}; no channel needed; a receiver needs no action', async () => {
  const a = await client(K.onlySend); // may send, may not subscribe to anything
  const b = await client(K.noSend);
  await expectAck(a, { type: 'send', to: b.peerId, data: { hello: 'b' } });
  const d = await b.next('direct');
  assert.deepEqual(d, { type: 'direct', from: a.peerId, data: { hello: 'b' } });
  assert.deepEqual(Object.keys(d).sort(), ['data', 'from', 'type']);
  await a.none('direct', 200);
  // null data
  const ack = await rawNext(a, `{"type":"send","to":"${b.peerId}","data":null,"requestId":"dn"}`);
  assert.deepEqual(ack, { type: 'ack', requestId: 'dn' });
  const dn = await b.next('direct');
  assert.ok(b.raw(dn).includes('"data":null'), b.raw(dn));
  assert.deepEqual(dn, { type: 'direct', from: a.peerId, data: null });
});

test('direct data is relayed byte for byte', async () => {
  const a = await client();
  const b = await client();
  const datas = [
    '12345678901234567890123',
    '1e400',
    '{ "z":1,  "a" : [ 1e400 ,12345678901234567890123 ] }',
    '"\\u00e9\\ud800"',
    '{"type":"rtc-ice","candidate":null}',
  ];
  for (const [i, d] of datas.entries()) {
    const ack = await rawNext(a, `{"type":"send","to":"${b.peerId}","requestId":"dr${i}","data":${d}}`);
    assert.deepEqual(ack, { type: 'ack', requestId: `dr${i}` });
    const m = await b.next('direct');
    assert.ok(b.raw(m).includes(`"data":${d}`), `data ${d} not relayed verbatim: ${b.raw(m)}`);
  }
});

test('directs from one sender arrive in send order', async () => {
  const a = await client();
  const b = await client();
  for (let i = 0; i < 100; i++) a.send({ type: 'send', to: b.peerId, data: i });
  await pingBarrier(a);
  for (let i = 0; i < 100; i++) assert.equal((await b.next('direct')).data, i);
});

test('a peer that closed is not found', async () => {
  const a = await client();
  const b = await RawClient.open(srv.ws, { key: K.all });
  const id = b.peerId;
  await b.close();
  // The close is processed asynchronously; allow it a moment, then it must be gone.
  let last;
  for (let i = 0; i < 20; i++) {
    last = await a.request({ type: 'send', to: id, data: 1 });
    if (last.type === 'error') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assertError(last, 'peer_not_found', last.requestId);
});
