// The REST rate limit per secret key (PROTOCOL.md §14.3, §17.1, §18): rest_burst_per_key = 3,
// rest_rate_per_key = 0.5 here. Beyond the burst: 429 rate_limited with Retry-After; per key, not
// per app; checked after routing and authentication and before the body; operational endpoints
// are not limited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { controlConfig, restClient, request, bearer, sleep } from '../lib/control.mjs';

const key = (n) => ({ id: `sk_id_restrate00000000000000000000000000${n}`, secret: `sk_secret_restrate000000000000000000000000${n}` });
const A = key(1);
const B = key(2);
const C = key(3);
const D = key(4);
const E = key(5);

let srv;
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      server: { rest_burst_per_key: 3, rest_rate_per_key: 0.5 },
      apps: [
        { id: 'rate', keys: [A, B, C, D].map((k) => ({ type: 'secret', ...k, channels: ['**'] })) },
        { id: 'rate2', keys: [{ type: 'secret', ...E, channels: ['**'] }] },
      ],
    }),
  });
});
after(() => srv?.stop());

function assertLimited(res) {
  assert.equal(res.status, 429, `expected 429, got ${res.status} ${res.body}`);
  assert.deepEqual(Object.keys(res.json ?? {}).sort(), ['error', 'message']);
  assert.equal(res.json.error, 'rate_limited');
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  const ra = res.headers['retry-after'];
  assert.match(ra ?? '', /^\d+$/, `Retry-After in seconds: ${ra}`);
  assert.ok(Number(ra) >= 1 && Number(ra) <= 3, `Retry-After ${ra} (one token takes 2 s)`);
  return Number(ra);
}

test('the 4th request of a key within the burst gets 429 rate_limited with Retry-After; it refills', async () => {
  const a = restClient(srv, A);
  for (let i = 0; i < 3; i++) assert.equal((await a.get('/v1/usage')).status, 200, `request ${i + 1}`);
  const ra = assertLimited(await a.get('/v1/usage'));
  // Every route of the same key is limited.
  assertLimited(await a.post('/v1/tokens', { peerId: 'x' }));
  assertLimited(await a.post('/v1/channels/c/publish', { data: 1 }));
  assertLimited(await a.get('/v1/channels/c/peers'));
  assertLimited(await a.del('/v1/peers/x'));
  // After Retry-After seconds a token is back.
  await sleep(ra * 1000 + 300);
  assert.equal((await a.get('/v1/usage')).status, 200);
});

test('the limit is per secret key: another key of the same app, and another app, are unaffected', async () => {
  const b = restClient(srv, B);
  for (let i = 0; i < 3; i++) assert.equal((await b.get('/v1/usage')).status, 200);
  assertLimited(await b.get('/v1/usage'));
  const c = restClient(srv, C);
  assert.equal((await c.get('/v1/usage')).status, 200);
  const e = restClient(srv, E);
  assert.equal((await e.get('/v1/usage')).status, 200);
});

test('order: 404/405/401 before 429; 429 before 413 and 400; failed authentications cost nothing', async () => {
  const d = restClient(srv, D);
  // Unauthenticated attempts with D's id do not drain D's bucket.
  for (let i = 0; i < 6; i++) {
    const res = await request(srv, 'GET', '/v1/usage', { auth: bearer(D.id, 'sk_secret_wrong') });
    assert.equal(res.status, 401);
  }
  for (let i = 0; i < 3; i++) assert.equal((await d.get('/v1/usage')).status, 200, `request ${i + 1} after the 401s`);
  // D is now exhausted.
  assertLimited(await d.get('/v1/usage'));
  assert.equal((await d.get('/v1/nope')).status, 404);
  assert.equal((await d.call('PUT', '/v1/tokens')).status, 405);
  assert.equal((await request(srv, 'GET', '/v1/usage', { auth: bearer(D.id, 'sk_secret_wrong') })).status, 401);
  assertLimited(await d.post('/v1/tokens', { peerId: 'a', pad: 'x'.repeat(40000) }, { chunked: true }));
  assertLimited(await d.post('/v1/tokens', '{'));
  assertLimited(await d.post('/v1/channels/_system%2Fx/publish', { data: 1 }));
});

test('operational endpoints are not rate limited', async () => {
  for (let i = 0; i < 30; i++) {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await request(srv, 'GET', path);
      assert.equal(res.status, 200, `${path} #${i}`);
    }
  }
});
