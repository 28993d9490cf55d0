// Admission quotas (PROTOCOL.md §3, §3.4, §12, §14.1, §17.6): 4010 over_connection_limit at the
// app's concurrent-connection cap (established connections untouched, refused ones not counted,
// overages admitted and reported), 4012 account_suspended for suspended apps, 4011 rate_limited
// when the per-connection bucket runs dry, and the order 4001 → 4002 → 4012 → 4010.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectRefused, expectAck } from '../lib/proto.mjs';
import { controlConfig, restClient, nowSec, until, sleep } from '../lib/control.mjs';

const k = (tag) => ({
  pk: `pk_live_quotaconn000000000000000000000${tag}`,
  id: `sk_id_quotaconn0000000000000000000000${tag}`,
  secret: `sk_secret_quotaconn000000000000000000${tag}`,
});
const CAP = k('cap'); // max_concurrent_connections = 2
const OVR = k('ovr'); // max 1, overages enabled
const SUS = k('sus'); // suspended
const RATE = k('rat'); // rate_limit_burst = 5, rate 1/s
const FREE = k('fre'); // no limits

const keysOf = (x) => [
  { type: 'publishable', id: x.pk, channels: ['**'], actions: ['subscribe', 'publish', 'presence', 'send'] },
  { type: 'secret', id: x.id, secret: x.secret, channels: ['**'] },
];

let srv;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        { id: 'cap', settings: { max_concurrent_connections: 2 }, keys: keysOf(CAP) },
        { id: 'ovr', settings: { max_concurrent_connections: 1, overages_enabled: true }, keys: keysOf(OVR) },
        { id: 'sus', settings: { suspended: true }, keys: keysOf(SUS) },
        { id: 'rat', settings: { rate_limit_burst: 5, rate_limit_per_second: 1 }, keys: keysOf(RATE) },
        { id: 'free', keys: keysOf(FREE) },
      ],
    }),
  });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

async function open(opts) {
  const c = await RawClient.open(srv.ws, opts);
  clients.push(c);
  return c;
}
const jwt = (x, claims = {}) => mintToken({ kid: x.id, secret: x.secret, claims: { sub: 'someone', ...claims } });

test('4010 over_connection_limit at the cap; established connections stay; a close makes room', async () => {
  const a = await open({ key: CAP.pk });
  const b = await open({ token: jwt(CAP, { sub: 'b' }) });
  await expectRefused(srv.ws, { key: CAP.pk }, 4010, 'over_connection_limit');
  await expectRefused(srv.ws, { token: jwt(CAP, { sub: 'c' }) }, 4010, 'over_connection_limit');
  // The two admitted ones keep working.
  await expectAck(a, { type: 'subscribe', channel: 'x' });
  await expectAck(b, { type: 'publish', channel: 'x', data: 1 });
  assert.equal((await a.next('message')).data, 1);
  // Another app is not affected.
  const f = await open({ key: FREE.pk });
  assert.equal(f.welcome.type, 'welcome');
  // One closes: a new one is admitted (possibly after the close is processed).
  await a.close();
  const c = await until(async () => {
    const x = await RawClient.connect(srv.ws, { key: CAP.pk });
    const first = await Promise.race([x.next('welcome').then(() => 'welcome').catch(() => 'closed'), x.closedWith(5000).then(() => 'closed')]);
    if (first === 'welcome') { clients.push(x); return x; }
    await sleep(100);
    return null;
  }, 10000, 0, 'admission after a close');
  assert.equal(c.closed, null);
  await expectRefused(srv.ws, { key: CAP.pk }, 4010, 'over_connection_limit');
});

test('usage of the capped app: refused connections are not counted (concurrentNow, peakConcurrent, overage)', async () => {
  // Two connections open, several refused with 4010 by the previous test.
  const rest = restClient(srv, CAP);
  const u = (await rest.get('/v1/usage')).json;
  assert.equal(u.concurrentNow, 2);
  assert.equal(u.plan.maxConcurrentConnections, 2);
  // §3.4: the count is of welcomed connections; the cap is never exceeded with overages off.
  assert.equal(u.peakConcurrent, 2, `peakConcurrent counts refused connections: ${JSON.stringify(u)}`);
  assert.equal(u.overageConnections, 0);
});

test('admission order: 4001 before 4002 before 4012 before 4010', async () => {
  // The cap app is full (2 of 2) from the previous test.
  await expectRefused(srv.ws, { token: mintToken({ kid: CAP.id, secret: 'wrong', claims: { sub: 'x' } }) }, 4001, 'invalid_token: bad signature');
  await expectRefused(srv.ws, { token: jwt(CAP, { exp: nowSec() - 5 }) }, 4002, 'token_expired');
  await expectRefused(srv.ws, { token: jwt(SUS, { exp: nowSec() - 5 }) }, 4002, 'token_expired');
  await expectRefused(srv.ws, { token: jwt(SUS, { sub: '' }) }, 4001, 'invalid_token: bad sub');
});

test('overages enabled: connections beyond the cap are admitted and reported', async () => {
  const cs = [await open({ key: OVR.pk }), await open({ key: OVR.pk }), await open({ token: jwt(OVR) })];
  for (const c of cs) assert.equal(c.welcome.type, 'welcome');
  const rest = restClient(srv, OVR);
  const u = await until(async () => { const x = (await rest.get('/v1/usage')).json; return x.concurrentNow === 3 && x; }, 10000, 100, 'concurrentNow 3');
  assert.equal(u.peakConcurrent, 3);
  assert.equal(u.overageConnections, 2);
  assert.deepEqual(u.plan, { name: null, maxConcurrentConnections: 1, maxMessagesPerPeriod: null, overagesAllowed: true, overagesEnabled: true });
});

test('4012 account_suspended: publishable key and JWT, no welcome', async () => {
  await expectRefused(srv.ws, { key: SUS.pk }, 4012, 'account_suspended');
  await expectRefused(srv.ws, { token: jwt(SUS) }, 4012, 'account_suspended');
  // REST of a suspended app still answers (suspension is about connections).
  const u = await restClient(srv, SUS).get('/v1/usage');
  assert.equal(u.status, 200);
  assert.equal(u.json.concurrentNow, 0);
});

test('4011 rate_limited: the frame after the burst closes the connection; pings are free', async () => {
  const c = await open({ key: RATE.pk });
  // Pings cost nothing: many more than the burst.
  for (let i = 0; i < 20; i++) {
    c.send({ type: 'ping' });
    assert.deepEqual(await c.next(() => true), { type: 'pong' });
  }
  // Five frames fit in the bucket; the sixth closes with 4011 and gets no response.
  for (let i = 1; i <= 6; i++) c.send({ type: 'publish', channel: 'r', data: i, requestId: `p${i}` });
  for (let i = 1; i <= 5; i++) assert.deepEqual(await c.next((f) => f.requestId === `p${i}`), { type: 'ack', requestId: `p${i}` });
  const closed = await c.closedWith(5000);
  assert.deepEqual(closed, { code: 4011, reason: 'rate_limited' });
  assert.equal(c.all.filter((f) => f.requestId === 'p6').length, 0);
  assert.equal(c.all.filter((f) => f.type === 'error').length, 0, 'a close only, no error frame');
  // A new connection starts with a full bucket.
  const d = await open({ key: RATE.pk });
  for (let i = 1; i <= 5; i++) await expectAck(d, { type: 'publish', channel: 'r', data: i });
  assert.equal(d.closed, null);
});
