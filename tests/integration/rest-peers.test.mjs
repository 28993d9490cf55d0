// DELETE /v1/peers/:id (PROTOCOL.md §17.5, §12): the kick closes every connection of the peer in
// the key's app with 4020 admin_disconnect (and nothing else), reports how many it closed, needs
// no action, validates the peerId, and does not ban the peer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectAck } from '../lib/proto.mjs';
import { controlConfig, restClient } from '../lib/control.mjs';

const SK_ID = 'sk_id_restpeers0000000000000000000000001';
const SK = 'sk_secret_restpeers00000000000000000000001';
const NOACT_ID = 'sk_id_restpeers00000000000000000000noact';
const NOACT = 'sk_secret_restpeers0000000000000000noact';
const OTHER_ID = 'sk_id_restpeers00000000000000000000other';
const OTHER = 'sk_secret_restpeers0000000000000000other';
const PK_OTHER = 'pk_live_restpeers00000000000000000000other';

let srv;
let rest;
let other;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        {
          id: 'usage-app',
          settings: { plan_name: 'pro', max_concurrent_connections: 50, max_messages_per_period: 1000, period_seconds: 3600, period_anchor: 1000 },
          keys: [
            { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
            // A key with no actions at all can still kick (no action is required).
            { type: 'secret', id: NOACT_ID, secret: NOACT, channels: ['nothing'], actions: [] },
          ],
        },
        {
          id: 'other-app',
          keys: [
            { type: 'secret', id: OTHER_ID, secret: OTHER, channels: ['**'] },
            { type: 'publishable', id: PK_OTHER, channels: ['**'] },
          ],
        },
      ],
    }),
  });
  rest = restClient(srv, { id: SK_ID, secret: SK });
  other = restClient(srv, { id: OTHER_ID, secret: OTHER });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

async function open(sub, { kid = SK_ID, secret = SK } = {}) {
  const c = await RawClient.open(srv.ws, { token: mintToken({ kid, secret, claims: { sub } }) });
  clients.push(c);
  return c;
}

function assertError(res, status, error) {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${res.body}`);
  assert.equal(res.json?.error, error, res.body);
}

test('DELETE /v1/peers/:id closes every connection of the peer in the app with 4020, and only those', async () => {
  const bob1 = await open('bob');
  const bob2 = await open('bob');
  const carol = await open('carol');
  const otherBob = await open('bob', { kid: OTHER_ID, secret: OTHER });
  await expectAck(carol, { type: 'subscribe', channel: 'room' });
  await expectAck(bob1, { type: 'subscribe', channel: 'room' });
  await carol.next((f) => f.type === 'presence' && f.joined.some((j) => j.peerId === 'bob'));
  const res = await rest.del('/v1/peers/bob');
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(res.json, { peerId: 'bob', closed: 2 });
  for (const b of [bob1, bob2]) {
    const cl = await b.closedWith(5000);
    assert.deepEqual(cl, { code: 4020, reason: 'admin_disconnect' });
    assert.equal(b.all.filter((f) => f.type === 'error').length, 0, 'a close only, no error frame');
  }
  // carol sees bob leave; carol and the other app's bob stay connected.
  assert.deepEqual(await carol.next((f) => f.type === 'presence' && f.left.length > 0), { type: 'presence', channel: 'room', joined: [], left: [{ peerId: 'bob' }] });
  assert.equal(carol.closed, null);
  assert.equal(otherBob.closed, null);
  // The peer is not banned: it connects again and can be kicked again.
  const bob3 = await open('bob');
  assert.equal(bob3.peerId, 'bob');
  assert.deepEqual((await rest.del('/v1/peers/bob')).json, { peerId: 'bob', closed: 1 });
  assert.equal((await bob3.closedWith()).code, 4020);
  // The other app's key kicks its own bob.
  assert.deepEqual((await other.del('/v1/peers/bob')).json, { peerId: 'bob', closed: 1 });
  assert.deepEqual(await otherBob.closedWith(), { code: 4020, reason: 'admin_disconnect' });
});

test('DELETE: offline peer → 200 closed 0; percent-decoded ids; no action needed; invalid ids → 400', async () => {
  assert.deepEqual((await rest.del('/v1/peers/nobody')).json, { peerId: 'nobody', closed: 0 });
  const odd = 'user:42 / x';
  const c = await open(odd);
  const res = await rest.del(`/v1/peers/${encodeURIComponent(odd)}`);
  assert.deepEqual({ status: res.status, json: res.json }, { status: 200, json: { peerId: odd, closed: 1 } });
  assert.equal((await c.closedWith()).code, 4020);
  // A publishable-key connection is kicked by its UUID peerId.
  const pk = await RawClient.open(srv.ws, { key: PK_OTHER });
  clients.push(pk);
  assert.deepEqual((await other.del(`/v1/peers/${pk.peerId}`)).json, { peerId: pk.peerId, closed: 1 });
  assert.equal((await pk.closedWith()).code, 4020);
  // A key without any action may kick.
  const d = await open('dora');
  const noact = restClient(srv, { id: NOACT_ID, secret: NOACT });
  assert.deepEqual((await noact.del('/v1/peers/dora')).json, { peerId: 'dora', closed: 1 });
  assert.equal((await d.closedWith()).code, 4020);
  for (const id of [encodeURIComponent('x'.repeat(129)), encodeURIComponent('é'), '%09tab', 'a%7Fb']) {
    assertError(await rest.del(`/v1/peers/${id}`), 400, 'invalid_request');
  }
  assert.deepEqual((await rest.del(`/v1/peers/${'x'.repeat(128)}`)).json, { peerId: 'x'.repeat(128), closed: 0 });
});
