// Common rules of the REST control plane (PROTOCOL.md §17.1, §2): authentication (one identical
// 401 for every failure), routes (404/405 with Allow), bodies (JSON whatever the Content-Type,
// objects only, 32768-byte cap with 413, chunked included), response Content-Type, no CORS, and
// the order of the checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { rawHttp, requestText } from '../lib/rawhttp.mjs';
import { controlConfig, request, restClient, bearer } from '../lib/control.mjs';

const PK = 'pk_live_restcommon00000000000000000000000';
const SK_ID = 'sk_id_restcommon000000000000000000000001';
const SK = 'sk_secret_restcommon0000000000000000000001';
// A secret key without the publish action, limited to app/**.
const NARROW_ID = 'sk_id_restcommon000000000000000000narrow';
const NARROW = 'sk_secret_restcommon00000000000000narrow';

let srv;
let rest;
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [{
        id: 'common',
        keys: [
          { type: 'publishable', id: PK, channels: ['**'] },
          { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
          { type: 'secret', id: NARROW_ID, secret: NARROW, channels: ['app/**'], actions: ['subscribe', 'presence'] },
        ],
      }],
    }),
  });
  rest = restClient(srv, { id: SK_ID, secret: SK });
});
after(() => srv?.stop());

const UNAUTHORIZED = { error: 'unauthorized', message: 'invalid credentials' };
const JSON_CT = 'application/json; charset=utf-8';

function assertErrorBody(res, status, error) {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${res.body}`);
  assert.equal(res.json?.error, error, `expected error ${error}, got ${res.body}`);
  assert.equal(typeof res.json.message, 'string');
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'message']);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
}

function assert401(res, what) {
  assert.equal(res.status, 401, `${what}: expected 401, got ${res.status} ${res.body}`);
  assert.deepEqual(res.json, UNAUTHORIZED, what);
  assert.match(res.headers['www-authenticate'] ?? '', /^Bearer\b/, `${what}: WWW-Authenticate`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
}

test('every authentication failure gets the identical 401 with WWW-Authenticate: Bearer', async () => {
  const cases = {
    'no header': undefined,
    'empty': '',
    'scheme only': 'Bearer',
    'scheme and space': 'Bearer ',
    'Basic scheme': `Basic ${Buffer.from(`${SK_ID}:${SK}`).toString('base64')}`,
    'id without secret': `Bearer ${SK_ID}`,
    'id and colon': `Bearer ${SK_ID}:`,
    'wrong secret': bearer(SK_ID, 'sk_secret_restcommon0000000000000000000002'),
    'secret of another key': bearer(SK_ID, NARROW),
    'unknown id': bearer('sk_id_unknown00000000000000000000000000000', SK),
    'secret and id swapped': bearer(SK, SK_ID),
    'publishable key': `Bearer ${PK}`,
    'publishable key with a secret': bearer(PK, SK),
    'secret with a suffix': bearer(SK_ID, `${SK}x`),
    'secret truncated': bearer(SK_ID, SK.slice(0, -1)),
  };
  const bodies = new Set();
  for (const [what, auth] of Object.entries(cases)) {
    for (const [method, path, body] of [['GET', '/v1/usage'], ['POST', '/v1/tokens', { peerId: 'a' }], ['GET', '/v1/channels/room/peers'], ['POST', '/v1/channels/room/publish', { data: 1 }], ['DELETE', '/v1/peers/alice']]) {
      const res = await request(srv, method, path, { auth, body });
      assert401(res, `${what} ${method} ${path}`);
      bodies.add(`${res.status} ${res.body} ${res.headers['www-authenticate']}`);
    }
  }
  assert.equal(bodies.size, 1, `responses differ: ${[...bodies].join(' | ')}`);
});

test('the Bearer scheme is case-insensitive', async () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const res = await request(srv, 'GET', '/v1/usage', { auth: `${scheme} ${SK_ID}:${SK}` });
    assert.equal(res.status, 200, `${scheme}: ${res.body}`);
  }
});

test('unknown routes → 404 not_found, before authentication', async () => {
  for (const [method, path] of [
    ['GET', '/v1/nope'], ['POST', '/v1/token'], ['GET', '/v1/channels'], ['GET', '/v1/channels/room'],
    ['GET', '/v1/channels/room/peers/x'], ['POST', '/v1/channels/room/publish/x'], ['GET', '/v1/tokens/x'],
    ['DELETE', '/v1/peers'], ['GET', '/v1/usage/x'], ['GET', '/v2/usage'], ['GET', '/v1/channels/room/members'],
  ]) {
    assertErrorBody(await request(srv, method, path), 404, 'not_found');
    assertErrorBody(await request(srv, method, path, { auth: bearer(SK_ID, SK) }), 404, 'not_found');
  }
});

test('known route, wrong method → 405 method_not_allowed with Allow, before authentication', async () => {
  const cases = [
    ['GET', '/v1/tokens', 'POST'], ['PUT', '/v1/tokens', 'POST'], ['DELETE', '/v1/tokens', 'POST'],
    ['POST', '/v1/usage', 'GET'], ['DELETE', '/v1/usage', 'GET'],
    ['POST', '/v1/channels/room/peers', 'GET'], ['DELETE', '/v1/channels/room/peers', 'GET'],
    ['GET', '/v1/channels/room/publish', 'POST'], ['PUT', '/v1/channels/room/publish', 'POST'],
    ['GET', '/v1/peers/alice', 'DELETE'], ['POST', '/v1/peers/alice', 'DELETE'],
    ['OPTIONS', '/v1/tokens', 'POST'], ['PATCH', '/v1/usage', 'GET'],
  ];
  for (const [method, path, allow] of cases) {
    for (const auth of [undefined, bearer(SK_ID, SK)]) {
      const res = await request(srv, method, path, { auth });
      assertErrorBody(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, allow, `${method} ${path}: Allow`);
    }
  }
});

test('responses are application/json; charset=utf-8 and carry no CORS headers, even for a browser origin', async () => {
  const headers = { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' };
  const responses = [
    await rest.get('/v1/usage', { headers }),
    await rest.post('/v1/tokens', { peerId: 'alice' }, { headers }),
    await rest.post('/v1/tokens', { peerId: '' }, { headers }),
    await rest.get('/v1/channels/room/peers', { headers }),
    await rest.post('/v1/channels/room/publish', { data: 1 }, { headers }),
    await rest.del('/v1/peers/alice', { headers }),
    await request(srv, 'GET', '/v1/usage', { headers }),
    await request(srv, 'OPTIONS', '/v1/tokens', { headers }),
  ];
  for (const res of responses) {
    assert.ok([200, 400, 401, 405].includes(res.status), `${res.status} ${res.body}`);
    assert.equal(res.headers['content-type'], JSON_CT);
    const cors = Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));
    assert.deepEqual(cors, [], `no CORS headers on /v1/ routes: ${cors}`);
    assert.notEqual(res.json, undefined, `body is JSON: ${res.body}`);
  }
});

test('bodies are parsed as JSON whatever the Content-Type; they must be objects; unknown members are ignored', async () => {
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
    const res = await rest.post('/v1/tokens', { peerId: 'alice', whatever: [1, 2] }, { headers: { 'Content-Type': ct } });
    assert.equal(res.status, 200, `${ct}: ${res.body}`);
  }
  // No Content-Type at all.
  const raw = await rawHttp(srv, requestText('POST', '/v1/tokens', srv, { Authorization: bearer(SK_ID, SK), Connection: 'close' }, '{"peerId":"alice"}'));
  assert.equal(raw.status, 200, raw.body);
  for (const body of ['[]', '"peerId"', '1', 'null', 'true', '{', '{"peerId":"alice"', '', ' ', '{"peerId":"alice"} x', '\u00ff']) {
    assertErrorBody(await rest.post('/v1/tokens', body), 400, 'invalid_request');
    assertErrorBody(await rest.post('/v1/channels/room/publish', body), 400, 'invalid_request');
  }
});

const padded = (n) => {
  const base = '{"peerId":"alice"}';
  return base.slice(0, -1) + ' '.repeat(n - base.length) + '}';
};

for (const chunked of [false, true]) {
  const how = chunked ? 'chunked' : 'Content-Length';
  test(`bodies over 32768 bytes (${how}) → 413 invalid_request; exactly 32768 is accepted`, async () => {
    assert.equal(Buffer.byteLength(padded(32768)), 32768);
    const ok = await rest.post('/v1/tokens', padded(32768), { chunked });
    assert.equal(ok.status, 200, ok.body);
    assertErrorBody(await rest.post('/v1/tokens', padded(32769), { chunked }), 413, 'invalid_request');
    assertErrorBody(await rest.post('/v1/channels/room/publish', { data: 'x'.repeat(40000) }, { chunked }), 413, 'invalid_request');
    assertErrorBody(await rest.post('/v1/channels/room/publish', { data: 'x'.repeat(200000) }, { chunked }), 413, 'invalid_request');
    const small = await rest.post('/v1/channels/room/publish', { data: { small: true } }, { chunked });
    assert.equal(small.status, 200, small.body);
  });

  test(`check order with an oversize body (${how}): 404, 405 and 401 come before 413, 413 before 400`, async () => {
    const big = padded(40000);
    assertErrorBody(await request(srv, 'POST', '/v1/nope', { body: big, chunked }), 404, 'not_found');
    assertErrorBody(await request(srv, 'PUT', '/v1/tokens', { body: big, chunked }), 405, 'method_not_allowed');
    assert401(await request(srv, 'POST', '/v1/tokens', { body: big, chunked }), 'no auth, big body');
    assert401(await request(srv, 'POST', '/v1/channels/room/publish', { body: big, chunked, auth: bearer(SK_ID, 'wrong') }), 'bad auth, big body');
    // Oversize and malformed: 413.
    assertErrorBody(await rest.post('/v1/tokens', `{${' '.repeat(40000)}`, { chunked }), 413, 'invalid_request');
  });
}

test('check order: 401 → 400 → reserved → action → scope', async () => {
  assert401(await request(srv, 'POST', '/v1/tokens', { body: '{' }), 'no auth, malformed body');
  assert401(await request(srv, 'POST', '/v1/channels/_system%2Fx/publish', { body: {} }), 'no auth, reserved channel');
  // Invalid body beats reserved channel / action / scope.
  const narrow = restClient(srv, { id: NARROW_ID, secret: NARROW });
  assertErrorBody(await narrow.post('/v1/channels/_system%2Fx/publish', { from: '', data: 1 }), 400, 'invalid_request');
  assertErrorBody(await narrow.post('/v1/channels/_system%2Fx/publish', {}), 400, 'invalid_request');
  // Reserved beats action (narrow has no publish) and scope (not under app/).
  assertErrorBody(await narrow.post('/v1/channels/_system%2Fx/publish', { data: 1 }), 400, 'channel_reserved');
  assertErrorBody(await narrow.get('/v1/channels/_internal%2Fx/peers'), 400, 'channel_reserved');
  // Action beats scope.
  assertErrorBody(await narrow.post('/v1/channels/other/publish', { data: 1 }), 403, 'action_not_permitted');
  // Scope.
  assertErrorBody(await narrow.get('/v1/channels/other/peers'), 403, 'channel_not_authorized');
  assert.equal((await narrow.get('/v1/channels/app%2Froom/peers')).status, 200);
  // An invalid channel in the path beats reserved and scope.
  assertErrorBody(await narrow.get('/v1/channels/oth*er/peers'), 400, 'invalid_request');
  // Tokens: an invalid peerId (400) beats a channel the key does not cover (403).
  assertErrorBody(await narrow.post('/v1/tokens', { peerId: '', channels: ['other/**'] }), 400, 'invalid_request');
  assertErrorBody(await narrow.post('/v1/tokens', { peerId: 'a', channels: ['other/**'] }), 403, 'channel_not_authorized');
});

test('operational endpoints stay outside REST: no authentication, GET only', async () => {
  const h = await request(srv, 'GET', '/healthz');
  assert.deepEqual({ status: h.status, json: h.json }, { status: 200, json: { status: 'ok' } });
  const r = await request(srv, 'GET', '/readyz');
  assert.deepEqual({ status: r.status, json: r.json }, { status: 200, json: { status: 'ready' } });
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const res = await request(srv, 'POST', path, { body: {} });
    assert.equal(res.status, 405, `POST ${path}`);
  }
});
