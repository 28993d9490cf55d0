// GET /v1/usage (PROTOCOL.md §17.6, §14.2, §1.1, §3.4): the app of the key, the current period's
// bounds from period_seconds / period_anchor, concurrentNow / peakConcurrent, messagesUsed (what is
// counted and what is not) and the plan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectAck, expectError } from '../lib/proto.mjs';
import { controlConfig, restClient, nowSec, until } from '../lib/control.mjs';

const SK_ID = 'sk_id_restusage0000000000000000000000001';
const SK = 'sk_secret_restusage00000000000000000000001';
const NOACT_ID = 'sk_id_restusage00000000000000000000noact';
const NOACT = 'sk_secret_restusage0000000000000000noact';
const OTHER_ID = 'sk_id_restusage00000000000000000000other';
const OTHER = 'sk_secret_restusage0000000000000000other';
const PK_OTHER = 'pk_live_restusage00000000000000000000other';

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

async function usage(client = rest) {
  const res = await client.get('/v1/usage');
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  return res.json;
}

test('GET /v1/usage: members, period bounds from period_seconds/period_anchor, plan', async () => {
  const u = await usage();
  assert.deepEqual(Object.keys(u).sort(), ['appId', 'concurrentNow', 'messagesUsed', 'overageConnections', 'overageMessages', 'peakConcurrent', 'periodEndUnix', 'periodStartUnix', 'plan'].sort());
  assert.equal(u.appId, 'usage-app');
  const now = nowSec();
  assert.equal((u.periodStartUnix - 1000) % 3600, 0, `period starts at anchor + k × 3600: ${u.periodStartUnix}`);
  assert.equal(u.periodEndUnix - u.periodStartUnix, 3600);
  assert.ok(u.periodStartUnix <= now + 1 && now - 1 < u.periodEndUnix, `now ${now} in [${u.periodStartUnix}, ${u.periodEndUnix})`);
  assert.deepEqual(u.plan, { name: 'pro', maxConcurrentConnections: 50, maxMessagesPerPeriod: 1000, overagesAllowed: false, overagesEnabled: false });
  for (const k of ['concurrentNow', 'peakConcurrent', 'messagesUsed', 'overageMessages', 'overageConnections']) assert.ok(Number.isInteger(u[k]) && u[k] >= 0, k);
  assert.equal(u.overageMessages, 0);
  assert.equal(u.overageConnections, 0);
  // The other app: no plan name, unlimited caps, default 30-day period.
  const o = await usage(other);
  assert.equal(o.appId, 'other-app');
  assert.deepEqual(o.plan, { name: null, maxConcurrentConnections: null, maxMessagesPerPeriod: null, overagesAllowed: false, overagesEnabled: false });
  assert.equal(o.periodEndUnix - o.periodStartUnix, 2592000);
  assert.ok(o.periodStartUnix <= now + 1 && now - 1 < o.periodEndUnix);
});

test('GET /v1/usage: concurrentNow and peakConcurrent follow the app\'s connections only', async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await until(async () => (await usage()).concurrentNow === 0, 10000, 100, 'concurrentNow 0');
  const base = await usage();
  const cs = [await open('u1'), await open('u2'), await open('u3')];
  await open('o1', { kid: OTHER_ID, secret: OTHER });
  const u = await until(async () => { const x = await usage(); return x.concurrentNow === 3 && x; }, 10000, 100, 'concurrentNow 3');
  assert.ok(u.peakConcurrent >= 3 && u.peakConcurrent >= base.peakConcurrent);
  await cs[0].close();
  const v = await until(async () => { const x = await usage(); return x.concurrentNow === 2 && x; }, 10000, 100, 'concurrentNow 2');
  assert.ok(v.peakConcurrent >= 3, 'the peak stays');
  assert.equal(v.overageConnections, 0);
});

test('GET /v1/usage: messagesUsed counts publish, send (peer_not_found included) and REST publish; not refused ones', async () => {
  const before = (await usage()).messagesUsed;
  const otherBefore = (await usage(other)).messagesUsed;
  const a = await open('msg-a');
  const b = await open('msg-b');
  await expectAck(b, { type: 'subscribe', channel: 'count' });
  await expectAck(a, { type: 'publish', channel: 'count', data: 1 }); // 1
  await expectAck(a, { type: 'publish', channel: 'nobody-listens', data: 2 }); // 2 (no receivers)
  await expectAck(a, { type: 'send', to: 'msg-b', data: 3 }); // 3
  await expectError(a, { type: 'send', to: 'offline-peer', data: 4 }, 'peer_not_found'); // 4: counted
  assert.equal((await rest.post('/v1/channels/count/publish', { data: 5 })).status, 200); // 5
  // Not counted: refused before the quota rule.
  await expectError(a, { type: 'publish', channel: '_system/x', data: 1 }, 'channel_reserved');
  await expectError(a, { type: 'publish', channel: 'count' }, 'missing_data');
  await expectError(a, { type: 'send', to: '', data: 1 }, 'invalid_peer_id');
  await expectError(a, { type: 'subscribe', channel: 'count' + '*'.repeat(3) }, 'invalid_channel');
  assert.equal((await rest.post('/v1/channels/_system%2Fx/publish', { data: 1 })).status, 400);
  assert.equal((await rest.post('/v1/channels/count/publish', {})).status, 400);
  const u = await until(async () => { const x = await usage(); return x.messagesUsed >= before + 5 && x; }, 10000, 100, 'messagesUsed');
  assert.equal(u.messagesUsed, before + 5);
  assert.equal(u.overageMessages, 0);
  // Other apps' usage is separate.
  assert.equal((await usage(other)).messagesUsed, otherBefore);
});
