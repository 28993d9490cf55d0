// The JWT matrix against a real parleyd (PROTOCOL.md §3, §3.3, §3.5, §12, §13.1, Appendix B):
// every bad token gets exactly the spec's close (code and reason, no frame before it), the checks
// run in the spec's order, 4001 comes before 4002 before 4012, the 4002 deadline is exp − 250 ms
// both at admission and mid-session, and a channel outside the key's patterns is refused on use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken, b64url } from '../lib/jwt.mjs';
import { expectRefused, expectError, expectAck } from '../lib/proto.mjs';
import { controlConfig, nowSec, sleep } from '../lib/control.mjs';

const PK = 'pk_live_jwtmatrix0000000000000000000000000';
const SK_ID = 'sk_id_jwtmatrix00000000000000000000000001';
const SK = 'sk_secret_jwtmatrix000000000000000000000001';
const SUS_ID = 'sk_id_jwtmatrix00000000000000000000000sus';
const SUS = 'sk_secret_jwtmatrix0000000000000000000000sus';
// Appendix B: secret `sk_secret_test`, kid `sk_id_test`.
const VEC_ID = 'sk_id_test';
const VEC = 'sk_secret_test';
const VECTOR = 'eyJhbGciOiJIUzI1NiIsImtpZCI6InNrX2lkX3Rlc3QiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJjaGFubmVscyI6WyJyb29tLSoiXSwicGVlck1ldGFkYXRhIjp7Im5hbWUiOiJBbGljZSJ9fQ.bSRYL-Yo0LI0WjAqY-MjXRr5Z49YL_VjcWhkslcOdPI';
const LIFETIME = 3600;

let srv;
const clients = [];
before(async () => {
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        {
          id: 'matrix',
          settings: { max_token_lifetime: LIFETIME },
          keys: [
            { type: 'publishable', id: PK, channels: ['**'] },
            { type: 'secret', id: SK_ID, secret: SK, channels: ['room-*', 'lobby'] },
            { type: 'secret', id: VEC_ID, secret: VEC, channels: ['**'] },
          ],
        },
        { id: 'suspended', settings: { suspended: true }, keys: [{ type: 'secret', id: SUS_ID, secret: SUS, channels: ['**'] }] },
      ],
    }),
  });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const tok = (claims = {}, opts = {}) => mintToken({ kid: SK_ID, secret: SK, claims: { sub: 'alice', ...claims }, ...opts });
const refused = (token, code, reason) => expectRefused(srv.ws, { token }, code, reason);
const bad = (token, why) => refused(token, 4001, `invalid_token: ${why}`);
async function admitted(token) {
  const c = await RawClient.open(srv.ws, { token });
  clients.push(c);
  return c;
}
// Re-signs header/payload texts with a given secret.
function signed(headerText, payloadText, secret = SK) {
  return mintToken({ secret, headerText, payloadText });
}

test('alg none and an RS256 header → 4001 invalid_token: unsupported alg', async () => {
  const claims = JSON.stringify({ sub: 'alice', exp: nowSec() + 600 });
  // alg none with a (meaningless) HMAC signature: the alg check alone must refuse it.
  await bad(signed(JSON.stringify({ alg: 'none', kid: SK_ID, typ: 'JWT' }), claims), 'unsupported alg');
  // alg none the way an attacker writes it: empty signature segment.
  const noneUnsigned = `${b64url(JSON.stringify({ alg: 'none', kid: SK_ID, typ: 'JWT' }))}.${b64url(claims)}.`;
  const c = await RawClient.connect(srv.ws, { token: noneUnsigned });
  const closed = await c.closedWith(8000);
  assert.equal(closed.code, 4001);
  // An empty segment is valid base64url (zero bytes), so rule 2 is the first to fail; a server
  // treating it as malformed still refuses it with 4001.
  assert.ok(['invalid_token: unsupported alg', 'invalid_token: malformed'].includes(closed.reason), closed.reason);
  assert.deepEqual(c.all, []);
  // RS256 header, signature made with the HMAC secret (key-confusion attempt) and a junk one.
  await bad(signed(JSON.stringify({ alg: 'RS256', kid: SK_ID, typ: 'JWT' }), claims), 'unsupported alg');
  await bad(`${b64url(JSON.stringify({ alg: 'RS256', kid: SK_ID, typ: 'JWT' }))}.${b64url(claims)}.${b64url(Buffer.alloc(256, 7))}`, 'unsupported alg');
  for (const alg of ['hs256', 'HS384', 'HS512', 'HS256 ', '', null]) {
    await bad(signed(JSON.stringify({ alg, kid: SK_ID, typ: 'JWT' }), claims), 'unsupported alg');
  }
  await bad(signed(JSON.stringify({ kid: SK_ID, typ: 'JWT' }), claims), 'unsupported alg');
});

test('kid: missing, not a string, unknown, a publishable key id → missing kid / unknown kid', async () => {
  const claims = JSON.stringify({ sub: 'alice', exp: nowSec() + 600 });
  await bad(signed(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), claims), 'missing kid');
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: 7, typ: 'JWT' }), claims), 'missing kid');
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: [SK_ID], typ: 'JWT' }), claims), 'missing kid');
  await bad(tok({}, { kid: 'sk_id_nosuchkey000000000000000000000000' }), 'unknown kid');
  await bad(tok({}, { kid: PK }), 'unknown kid');
  // The secret string itself is not a key id.
  await bad(tok({}, { kid: SK }), 'unknown kid');
  // A kid of another app works only with that app's secret (here: a suspended app, §3 order).
  await refused(mintToken({ kid: SUS_ID, secret: SUS, claims: { sub: 'x' } }), 4012, 'account_suspended');
  await bad(mintToken({ kid: SUS_ID, secret: SK, claims: { sub: 'x' } }), 'bad signature');
});

test('bad signature: wrong secret, secret without its prefix, a flipped character, a truncated one', async () => {
  await bad(tok({}, { secret: 'sk_secret_jwtmatrix000000000000000000000002' }), 'bad signature');
  await bad(tok({}, { secret: SK.slice('sk_secret_'.length) }), 'bad signature');
  const good = tok();
  const [h, p, s] = good.split('.');
  const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
  await bad(flipped, 'bad signature');
  await bad(`${h}.${p}.${s.slice(0, -4)}`, 'bad signature');
  // An empty signature segment: valid (empty) base64url, so a bad signature; a server calling it
  // malformed still refuses it with 4001.
  const empty = await RawClient.connect(srv.ws, { token: `${h}.${p}.` });
  const ec = await empty.closedWith(8000);
  assert.equal(ec.code, 4001);
  assert.ok(['invalid_token: bad signature', 'invalid_token: malformed'].includes(ec.reason), ec.reason);
  // The payload changed after signing (sub swapped).
  const forged = `${h}.${b64url(JSON.stringify({ sub: 'mallory', exp: nowSec() + 600 }))}.${s}`;
  await bad(forged, 'bad signature');
  // Sanity: the untouched token is admitted.
  const c = await admitted(good);
  assert.equal(c.peerId, 'alice');
});

test('exp: missing or not a number → missing exp; past → 4002 token_expired without welcome', async () => {
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: SK_ID, typ: 'JWT' }), JSON.stringify({ sub: 'alice' })), 'missing exp');
  await bad(tok({ exp: String(nowSec() + 600) }), 'missing exp');
  await bad(tok({ exp: null }), 'missing exp');
  await refused(tok({ exp: nowSec() - 10 }), 4002, 'token_expired');
  await refused(tok({ exp: nowSec() - 86400 * 365 }), 4002, 'token_expired');
  await refused(tok({ exp: nowSec() }), 4002, 'token_expired');
});

test('4002 at admission: a token whose exp − 250 ms deadline has already passed', async () => {
  // Wait until we are 850–900 ms into a second: exp = the next second puts the deadline
  // (exp × 1000 − 250) some 100–150 ms in the past, although exp itself is still ahead.
  while (Date.now() % 1000 < 850 || Date.now() % 1000 >= 900) await sleep(5);
  const exp = Math.floor(Date.now() / 1000) + 1;
  await refused(tok({ exp }), 4002, 'token_expired');
});

test('4002 mid-session at about exp − 250 ms (§13.1)', async () => {
  const exp = nowSec() + 3;
  const c = await admitted(tok({ sub: 'short', exp }));
  assert.equal(c.welcome.expiresAt, exp);
  const closed = await c.closedWith(8000);
  const at = Date.now();
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 4002, reason: 'token_expired' });
  const deadline = exp * 1000 - 250;
  assert.ok(at >= deadline - 200, `closed ${deadline - at} ms before the deadline exp×1000−250`);
  assert.ok(at <= exp * 1000 + 1000, `closed ${at - exp * 1000} ms after exp`);
  // Nothing but the welcome was sent: no error frame announces the close.
  assert.deepEqual(c.all.map((f) => f.type), ['welcome']);
});

test('exp beyond the lifetime cap (maxTokenLifetime + 30 s leeway) → lifetime too long', async () => {
  await bad(tok({ exp: nowSec() + LIFETIME + 30 + 10 }), 'lifetime too long');
  await bad(tok({ exp: nowSec() + 86400 }), 'lifetime too long');
  await bad(tok({ exp: 1e12 }), 'lifetime too long');
  // Within the leeway: admitted.
  const c = await admitted(tok({ exp: nowSec() + LIFETIME + 20 }));
  assert.equal(c.peerId, 'alice');
  const d = await admitted(tok({ exp: nowSec() + LIFETIME }));
  assert.equal(d.peerId, 'alice');
});

test('nbf in the future (beyond 30 s leeway) → not yet valid; iat in the future → iat in the future', async () => {
  await bad(tok({ nbf: nowSec() + 60 }), 'not yet valid');
  await bad(tok({ nbf: nowSec() + 3600 }), 'not yet valid');
  await bad(tok({ nbf: String(nowSec()) }), 'not yet valid');
  await bad(tok({ iat: nowSec() + 60 }), 'iat in the future');
  await bad(tok({ iat: 'yesterday' }), 'iat in the future');
  // Within the leeway and in the past: admitted.
  assert.equal((await admitted(tok({ nbf: nowSec() + 20, iat: nowSec() + 20 }))).peerId, 'alice');
  assert.equal((await admitted(tok({ nbf: nowSec() - 100, iat: nowSec() - 100 }))).peerId, 'alice');
});

test('sub: missing, empty, too long, non-ASCII, control characters, not a string → bad sub', async () => {
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: SK_ID, typ: 'JWT' }), JSON.stringify({ exp: nowSec() + 600 })), 'bad sub');
  for (const sub of ['', 'x'.repeat(129), 'élan', 'a\tb', 'a\u007fb', 42, null, ['alice'], { id: 'alice' }]) {
    await bad(tok({ sub }), 'bad sub');
  }
  assert.equal((await admitted(tok({ sub: 'x'.repeat(128) }))).peerId, 'x'.repeat(128));
});

test('channels and permissions claims: malformed → bad channels / bad permissions', async () => {
  await bad(tok({ channels: 'room-1' }), 'bad channels');
  await bad(tok({ channels: [7] }), 'bad channels');
  await bad(tok({ channels: [''] }), 'bad channels');
  await bad(tok({ channels: ['a***'] }), 'bad channels');
  await bad(tok({ channels: ['a\\b'] }), 'bad channels');
  await bad(tok({ channels: ['x'.repeat(257)] }), 'bad channels');
  await bad(tok({ channels: Array.from({ length: 101 }, (_, i) => `room-${i}`) }), 'bad channels');
  await admitted(tok({ channels: Array.from({ length: 100 }, (_, i) => `room-${i}`) }));
  await bad(tok({ permissions: 'publish' }), 'bad permissions');
  await bad(tok({ permissions: ['admin'] }), 'bad permissions');
  await bad(tok({ permissions: ['Publish'] }), 'bad permissions');
  await bad(tok({ permissions: Array.from({ length: 17 }, () => 'publish') }), 'bad permissions');
  await admitted(tok({ permissions: Array.from({ length: 16 }, () => 'publish') }));
});

test('peerMetadata over 4096 bytes of JSON text → peerMetadata too large; not an object → bad peerMetadata', async () => {
  // {"x":"<n>"} is 8 + n bytes.
  await bad(tok({ peerMetadata: { x: 'a'.repeat(4089) } }), 'peerMetadata too large');
  await bad(tok({ peerMetadata: { x: 'é'.repeat(2045) } }), 'peerMetadata too large'); // 8 + 4090 bytes
  const ok = await admitted(tok({ sub: 'meta-ok', peerMetadata: { x: 'a'.repeat(4088) } }));
  assert.equal(ok.peerId, 'meta-ok');
  // The size is that of the text exactly as it appears in the payload, whitespace included.
  const exp = nowSec() + 600;
  const header = JSON.stringify({ alg: 'HS256', kid: SK_ID, typ: 'JWT' });
  const spaced = (n) => `{"sub":"alice","exp":${exp},"peerMetadata":{ "x" : "${'a'.repeat(n)}" }}`;
  // `{ "x" : "` + n + `" }` = 12 + n bytes.
  await bad(signed(header, spaced(4085)), 'peerMetadata too large');
  await admitted(signed(header, spaced(4084)));
  for (const peerMetadata of ['Alice', 7, ['Alice'], true]) await bad(tok({ peerMetadata }), 'bad peerMetadata');
  // metadata: 8192 bytes.
  await bad(tok({ metadata: { x: 'a'.repeat(8185) } }), 'metadata too large');
  await admitted(tok({ metadata: { x: 'a'.repeat(8184) } }));
  for (const metadata of ['m', 1, [], false]) await bad(tok({ metadata }), 'bad metadata');
});

test('check order: the first failing rule of §3.3 decides; every 4001 precedes 4002, 4002 precedes 4012', async () => {
  const past = nowSec() - 10;
  const claims = (c) => JSON.stringify({ sub: 'alice', exp: nowSec() + 600, ...c });
  // malformed before everything
  await bad(`${b64url('{"alg":"none"')}.${b64url(claims({}))}.x`, 'malformed');
  // unsupported alg before unknown kid
  await bad(signed(JSON.stringify({ alg: 'none', kid: 'sk_id_unknown' }), claims({})), 'unsupported alg');
  // missing kid before bad signature
  await bad(signed(JSON.stringify({ alg: 'HS256' }), claims({}), 'wrong'), 'missing kid');
  // unknown kid before bad signature
  await bad(tok({}, { kid: 'sk_id_unknown000000000000000000000000000', secret: 'wrong' }), 'unknown kid');
  // bad signature before missing exp / expired / bad sub
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: SK_ID }), JSON.stringify({ exp: past }), 'wrong'), 'bad signature');
  // missing exp before bad sub
  await bad(signed(JSON.stringify({ alg: 'HS256', kid: SK_ID }), JSON.stringify({ sub: '' })), 'missing exp');
  // lifetime too long before not yet valid
  await bad(tok({ exp: nowSec() + 86400 * 10, nbf: nowSec() + 3600 }), 'lifetime too long');
  // not yet valid before iat in the future
  await bad(tok({ nbf: nowSec() + 120, iat: nowSec() + 120 }), 'not yet valid');
  // iat in the future before bad sub
  await bad(tok({ iat: nowSec() + 120, sub: '' }), 'iat in the future');
  // bad sub before bad channels
  await bad(tok({ sub: '', channels: 'x' }), 'bad sub');
  // bad channels before bad permissions
  await bad(tok({ channels: 'x', permissions: 'y' }), 'bad channels');
  // bad permissions before peerMetadata
  await bad(tok({ permissions: ['x'], peerMetadata: 'y' }), 'bad permissions');
  // peerMetadata before metadata
  await bad(tok({ peerMetadata: { x: 'a'.repeat(5000) }, metadata: { x: 'a'.repeat(9000) } }), 'peerMetadata too large');
  // An expired token with any other defect is a 4001 (validity before the expiry deadline).
  await bad(tok({ exp: past, sub: '' }), 'bad sub');
  await bad(tok({ exp: past, peerMetadata: { x: 'a'.repeat(5000) } }), 'peerMetadata too large');
  await bad(tok({ exp: past, iat: nowSec() + 120 }), 'iat in the future');
  // Expiry (check 3) before suspension (check 4).
  await refused(mintToken({ kid: SUS_ID, secret: SUS, claims: { sub: 'x', exp: past } }), 4002, 'token_expired');
});

test('a channel outside the key\'s patterns is refused on use (channel_not_authorized), never at admission', async () => {
  // Key patterns: room-*, lobby. Token channels outside them: admitted, but nothing is authorized.
  const c = await admitted(tok({ sub: 'outside', channels: ['admin/**'] }));
  await expectError(c, { type: 'subscribe', channel: 'admin/1' }, 'channel_not_authorized');
  await expectError(c, { type: 'publish', channel: 'admin/1', data: 1 }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'room-1' }, 'channel_not_authorized');
  await expectError(c, { type: 'subscribe', channel: 'admin/**' }, 'channel_not_authorized');
  // Without a channels claim the key's patterns alone apply.
  const d = await admitted(tok({ sub: 'keyonly' }));
  await expectError(d, { type: 'subscribe', channel: 'admin/1' }, 'channel_not_authorized');
  await expectError(d, { type: 'publish', channel: 'lobby2', data: 1 }, 'channel_not_authorized');
  await expectAck(d, { type: 'subscribe', channel: 'room-1' });
  await expectAck(d, { type: 'publish', channel: 'lobby', data: 1 });
  // Intersection: token room-1 only.
  const e = await admitted(tok({ sub: 'narrow', channels: ['room-1'], permissions: ['subscribe'] }));
  await expectAck(e, { type: 'subscribe', channel: 'room-1' });
  await expectError(e, { type: 'subscribe', channel: 'room-2' }, 'channel_not_authorized');
  await expectError(e, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
  await expectError(e, { type: 'publish', channel: 'room-1', data: 1 }, 'action_not_permitted');
  // An empty channels array authorizes nothing.
  const f = await admitted(tok({ sub: 'none', channels: [] }));
  await expectError(f, { type: 'subscribe', channel: 'room-1' }, 'channel_not_authorized');
  // None of this closed the connections (4003 is never sent).
  for (const x of [c, d, e, f]) assert.equal(x.closed, null);
});

test('Appendix B JWT vector end to end', async () => {
  // The helper reproduces the vector byte for byte.
  const payloadText = '{"sub":"alice","iat":1700000000,"exp":1700003600,"channels":["room-*"],"peerMetadata":{"name":"Alice"}}';
  assert.equal(mintToken({ kid: VEC_ID, secret: VEC, payloadText }), VECTOR);
  // Today the vector's exp has passed: 4002 (its signature and claims are valid).
  await refused(VECTOR, 4002, 'token_expired');
  // With the first character of the signature changed: 4001 bad signature.
  const [h, p, s] = VECTOR.split('.');
  await bad(`${h}.${p}.${s[0] === 'a' ? 'b' : 'a'}${s.slice(1)}`, 'bad signature');
  // The same claims with a current clock: peerId alice, may subscribe to room-1, not lobby.
  const exp = nowSec() + 600;
  const c = await admitted(mintToken({ kid: VEC_ID, secret: VEC, payloadText: `{"sub":"alice","iat":${nowSec()},"exp":${exp},"channels":["room-*"],"peerMetadata":{"name":"Alice"}}` }));
  assert.equal(c.peerId, 'alice');
  assert.equal(c.welcome.expiresAt, exp);
  await expectAck(c, { type: 'subscribe', channel: 'room-1' });
  await expectError(c, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
});
