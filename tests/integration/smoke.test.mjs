// A first end-to-end check: connect, subscribe, publish, receive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';

test('publish reaches another subscriber', async (t) => {
  const srv = await startParleyd();
  t.after(() => srv.stop());
  const a = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const b = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await a.request({ type: 'subscribe', channel: 'room' })).type, 'ack');
  assert.equal((await b.request({ type: 'subscribe', channel: 'room' })).type, 'ack');
  assert.equal((await b.request({ type: 'publish', channel: 'room', data: { n: 1 } })).type, 'ack');
  const m = await a.next('message');
  assert.deepEqual(m, { type: 'message', channel: 'room', from: b.peerId, data: { n: 1 } });
  await a.close();
  await b.close();
});
