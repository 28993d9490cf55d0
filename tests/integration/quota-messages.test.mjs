// The message quota (PROTOCOL.md §14.2, §6.3, §6.4, §17.1, §17.4, §17.6, §1.1): at the cap,
// publish and send fail with over_message_quota (REST: 429) and nothing is delivered, the
// connection stays open, inbound delivery goes on; the quota rule sits after validation and
// authorization and before peer_not_found; with overages the messages go through and are reported;
// a new period starts a new count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectAck, expectError, pingBarrier } from '../lib/proto.mjs';
import { controlConfig, restClient, until, sleep, nowSec } from '../lib/control.mjs';

const k = (tag) => ({
  id: `sk_id_quotamsg00000000000000000000000${tag}`,
  secret: `sk_secret_quotamsg0000000000000000000${tag}`,
});
const Q = k('qqq'); // max 3 messages per period, overages off
const NS = k('nos'); // second key of app Q: channels room only, no send
const O = k('ovr'); // max 2, overages on
const P = k('per'); // max 1 per 4-second period

let srv;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        {
          id: 'quota',
          settings: { max_messages_per_period: 3 },
          keys: [
            { type: 'secret', ...Q, channels: ['**'] },
            { type: 'secret', ...NS, channels: ['room'], actions: ['subscribe', 'publish', 'presence'] },
          ],
        },
        { id: 'overage', settings: { max_messages_per_period: 2, overages_enabled: true }, keys: [{ type: 'secret', ...O, channels: ['**'] }] },
        { id: 'period', settings: { max_messages_per_period: 1, period_seconds: 4, period_anchor: 0 }, keys: [{ type: 'secret', ...P, channels: ['**'] }] },
      ],
    }),
  });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

async function open(key, sub) {
  const c = await RawClient.open(srv.ws, { token: mintToken({ kid: key.id, secret: key.secret, claims: { sub } }) });
  clients.push(c);
  return c;
}

test('at the cap: over_message_quota for publish and send, 429 for REST; nothing delivered; the connection stays', async () => {
  const rest = restClient(srv, Q);
  const a = await open(Q, 'qa');
  const b = await open(Q, 'qb');
  await expectAck(b, { type: 'subscribe', channel: 'room' });
  await expectAck(a, { type: 'publish', channel: 'room', data: 1 }); // 1
  await expectAck(a, { type: 'send', to: 'qb', data: 2 }); // 2
  assert.equal((await rest.post('/v1/channels/room/publish', { data: 3 })).status, 200); // 3
  assert.equal((await b.next('message')).data, 1);
  assert.equal((await b.next('direct')).data, 2);
  assert.equal((await b.next('message')).data, 3);
  // The quota is used up.
  await expectError(a, { type: 'publish', channel: 'room', data: 4 }, 'over_message_quota');
  await expectError(a, { type: 'send', to: 'qb', data: 5 }, 'over_message_quota');
  a.send({ type: 'publish', channel: 'room', data: 6 });
  const noId = await a.next('error');
  assert.deepEqual(Object.keys(noId).sort(), ['code', 'message', 'type']);
  assert.equal(noId.code, 'over_message_quota');
  const r = await rest.post('/v1/channels/room/publish', { data: 7 });
  assert.equal(r.status, 429, r.body);
  assert.equal(r.json.error, 'over_message_quota');
  assert.equal(typeof r.json.message, 'string');
  // Nothing was delivered.
  await b.none((f) => f.type === 'message' || f.type === 'direct', 500);
  // Connections stay open and everything that is not a message still works.
  await pingBarrier(a);
  await expectAck(a, { type: 'subscribe', channel: 'room' });
  // Inbound delivery is not blocked: b receives a's joined delta (presence).
  const joined = await b.next((f) => f.type === 'presence' && f.joined.length > 0);
  assert.deepEqual(joined, { type: 'presence', channel: 'room', joined: [{ peerId: 'qa' }], left: [] });
  assert.equal(a.closed, null);
  assert.equal(b.closed, null);
  // Usage: 3 used, no overage.
  const u = (await rest.get('/v1/usage')).json;
  // Refused requests were not delivered and are no overage: overages exist only when enabled.
  assert.equal(u.overageMessages, 0, `refused messages reported as overage: ${JSON.stringify(u)}`);
  assert.ok(u.messagesUsed >= 3, `messagesUsed ${u.messagesUsed}`);
  assert.equal(u.plan.maxMessagesPerPeriod, 3);
});

test('the quota rule comes after validation and authorization, and before peer_not_found', async () => {
  const a = await open(Q, 'order-a');
  const n = await open(NS, 'order-n');
  // Validation and authorization failures keep their own codes.
  await expectError(a, { type: 'publish', channel: 'a*', data: 1 }, 'invalid_channel');
  await expectError(a, { type: 'publish', channel: '_system/x', data: 1 }, 'channel_reserved');
  await expectError(a, { type: 'publish', channel: 'room' }, 'missing_data');
  await expectError(a, { type: 'send', to: '', data: 1 }, 'invalid_peer_id');
  await expectError(n, { type: 'send', to: 'order-a', data: 1 }, 'action_not_permitted');
  await expectError(n, { type: 'publish', channel: 'elsewhere', data: 1 }, 'channel_not_authorized');
  // Quota before peer_not_found.
  await expectError(a, { type: 'send', to: 'nobody-online', data: 1 }, 'over_message_quota');
  await expectError(n, { type: 'publish', channel: 'room', data: 1 }, 'over_message_quota');
  // REST: 400 / 403 before 429.
  const rest = restClient(srv, Q);
  const ns = restClient(srv, NS);
  assert.equal((await rest.post('/v1/channels/room/publish', {})).status, 400);
  assert.equal((await rest.post('/v1/channels/_system%2Fx/publish', { data: 1 })).status, 400);
  assert.equal((await ns.post('/v1/channels/elsewhere/publish', { data: 1 })).json.error, 'channel_not_authorized');
  assert.equal((await ns.post('/v1/channels/room/publish', { data: 1 })).json.error, 'over_message_quota');
});

test('overages enabled: messages beyond the cap go through and are reported', async () => {
  const rest = restClient(srv, O);
  const a = await open(O, 'oa');
  const b = await open(O, 'ob');
  await expectAck(b, { type: 'subscribe', channel: 'room' });
  for (let i = 1; i <= 4; i++) await expectAck(a, { type: 'publish', channel: 'room', data: i });
  await expectAck(a, { type: 'send', to: 'ob', data: 5 });
  assert.equal((await rest.post('/v1/channels/room/publish', { data: 6 })).status, 200);
  for (let i = 1; i <= 4; i++) assert.equal((await b.next('message')).data, i);
  assert.equal((await b.next('direct')).data, 5);
  assert.equal((await b.next('message')).data, 6);
  const u = (await rest.get('/v1/usage')).json;
  assert.equal(u.messagesUsed, 6);
  assert.equal(u.overageMessages, 4);
  assert.equal(u.plan.overagesEnabled, true);
  assert.equal(u.plan.overagesAllowed, true);
  assert.equal(u.plan.maxMessagesPerPeriod, 2);
});

test('a new period starts a new count (period_seconds = 4)', async () => {
  const a = await open(P, 'pa');
  const rest = restClient(srv, P);
  // Start right after a period boundary so both messages fall in the same period.
  while (Date.now() % 4000 > 1500 || Date.now() % 4000 < 100) await sleep(20);
  const u0 = (await rest.get('/v1/usage')).json;
  assert.equal(u0.periodEndUnix - u0.periodStartUnix, 4);
  assert.equal(u0.periodStartUnix % 4, 0);
  await expectAck(a, { type: 'publish', channel: 'c', data: 1 });
  await expectError(a, { type: 'publish', channel: 'c', data: 2 }, 'over_message_quota');
  assert.equal((await rest.post('/v1/channels/c/publish', { data: 3 })).status, 429);
  // The next period.
  const next = u0.periodEndUnix * 1000 + 300;
  await sleep(Math.max(0, next - Date.now()));
  await expectAck(a, { type: 'publish', channel: 'c', data: 4 });
  const u1 = (await rest.get('/v1/usage')).json;
  assert.ok(u1.periodStartUnix >= u0.periodEndUnix, 'a later period');
  assert.equal(u1.messagesUsed, 1);
  assert.ok(nowSec() < u1.periodEndUnix + 1);
});
