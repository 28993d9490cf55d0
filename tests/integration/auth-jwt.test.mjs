// JWT admission and scope (PROTOCOL.md §3.3, §3.5, §3.6, §13.1 at admission): the welcome of a
// token connection, every 4001 reason in check order, 4002 for an expired token, and the
// intersection of key and token channels/permissions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken, b64url } from '../lib/jwt.mjs';
import { configFor, expectRefused, expectError, expectAck, subscribe } from '../lib/proto.mjs';

const PK = 'pk_live_jwt000000000000000000000000000all';
const SK_ID = 'sk_id_jwt0000000000000000000000000000001';
const SK = 'sk_secret_jwt000000000000000000000000001';
const SK2_ID = 'sk_id_jwt0000000000000000000000000000002'; // channels a/**, actions subscribe+presence
const SK2 = 'sk_secret_jwt000000000000000000000000002';
const SK3_ID = 'sk_id_jwt0000000000000000000000000000003'; // app with max_token_lifetime 3600
const SK3 = 'sk_secret_jwt000000000000000000000000003';

let srv;
const now = () => Math.floor(Date.now() / 1000);
const tok = (claims, opts = {}) => mintToken({ kid: SK_ID, secret: SK, claims: { sub: 'alice', ...claims }, ...opts });
const cleanup = [];
async function open(token) {
  const c = await RawClient.open(srv.ws, { token });
  cleanup.push(c);
  return c;
}
before(async () => {
  srv = await startParleyd({
    config: configFor([
      {
        id: 'jwt',
        keys: [
          { type: 'publishable', id: PK, channels: ['**'] },
          { type: 'secret', id: SK_ID, secret: SK, channels: ['**'] },
          { type: 'secret', id: SK2_ID, secret: SK2, channels: ['a/**'], actions: ['subscribe', 'presence'] },
        ],
      },
      { id: 'jwt-short', settings: { max_token_lifetime: 3600 }, keys: [{ type: 'secret', id: SK3_ID, secret: SK3, channels: ['**'] }] },
    ]),
  });
});
after(async () => {
  await Promise.all(cleanup.map((c) => c.close().catch(() => {})));
  await srv?.stop();
});

const refuse = (token, reason, code = 4001) => expectRefused(srv.ws, { token }, code, reason);

test('token welcome: peerId = sub, expiresAt = exp, metadata as given, exact members', async () => {
  const exp = now() + 600;
  const metadata = { room: 'r1', n: [1, 2, { x: null }], s: 'é' };
  const c = await open(tok({ sub: 'alice', exp, metadata }));
  const w = c.welcome;
  assert.deepEqual(Object.keys(w).sort(), ['expiresAt', 'maxMessageSize', 'metadata', 'peerId', 'serverTime', 'type']);
  assert.equal(w.peerId, 'alice');
  assert.equal(w.expiresAt, exp);
  assert.equal(w.maxMessageSize, 65536);
  assert.ok(Math.abs(w.serverTime - now()) <= 5);
  assert.deepEqual(w.metadata, metadata);

  // No metadata claim (or null): no metadata member.
  for (const claims of [{}, { metadata: null }]) {
    const d = await open(tok({ sub: 'bob', ...claims }));
    assert.deepEqual(Object.keys(d.welcome).sort(), ['expiresAt', 'maxMessageSize', 'peerId', 'serverTime', 'type']);
    assert.equal(d.peerId, 'bob');
    assert.ok(Number.isInteger(d.welcome.expiresAt));
  }
  // A fractional exp: its fractional part is discarded.
  const e = now() + 600;
  const f = await open(tok({ exp: e + 0.75 }));
  assert.equal(f.welcome.expiresAt, e);
  // Unusual but valid subs.
  for (const sub of [' ', '~', 'x'.repeat(128), 'a b!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~']) {
    const g = await open(tok({ sub }));
    assert.equal(g.peerId, sub);
  }
});

test('other header members and claims are ignored', async () => {
  const c = await open(mintToken({ kid: SK_ID, secret: SK, header: { alg: 'HS256', kid: SK_ID, typ: 'whatever', cty: 'x' }, claims: { sub: 'ivy', iss: 'me', aud: ['x'], jti: 5, custom: { a: 1 } } }));
  assert.equal(c.peerId, 'ivy');
  const d = await open(mintToken({ kid: SK_ID, secret: SK, header: { kid: SK_ID, alg: 'HS256' }, claims: { sub: 'ivy' } }));
  assert.equal(d.peerId, 'ivy');
});

test('rule 1: malformed tokens → invalid_token: malformed', async () => {
  const good = tok({});
  const [h, p, s] = good.split('.');
  for (const t of [
    'abc', `${h}.${p}`, `${h}.${p}.${s}.x`, `${h}..${s}`, `.${p}.${s}`,
    `${h}.${p}.${s}=`, `${h}=.${p}.${s}`, `${h}.${p}+.${s}`, `${h}.p%.${s}`,
    `${b64url('[1]')}.${p}.${s}`, `${h}.${b64url('"x"')}.${s}`, `${b64url('not json')}.${p}.${s}`,
    `${h}.${b64url(Buffer.from([0x7b, 0xff, 0x7d]))}.${s}`,
  ]) {
    await refuse(t, 'invalid_token: malformed');
  }
  await expectRefused(srv.ws, { query: 'token=' }, 4001, 'invalid_token: malformed');
});

test('rule 2: alg must be exactly HS256', async () => {
  for (const alg of ['none', 'HS512', 'hs256', 'RS256', '', undefined, 256]) {
    const header = { kid: SK_ID, typ: 'JWT' };
    if (alg !== undefined) header.alg = alg;
    await refuse(mintToken({ kid: SK_ID, secret: SK, header, claims: { sub: 'a' } }), 'invalid_token: unsupported alg');
  }
  // alg none with an empty signature.
  const h = b64url(JSON.stringify({ alg: 'none', kid: SK_ID }));
  const p = b64url(JSON.stringify({ sub: 'a', exp: now() + 60 }));
  await refuse(`${h}.${p}.`, 'invalid_token: unsupported alg');
});

test('rules 3–5: kid string, known secret kid, signature', async () => {
  await refuse(mintToken({ secret: SK, header: { alg: 'HS256' }, claims: { sub: 'a' } }), 'invalid_token: missing kid');
  await refuse(mintToken({ secret: SK, header: { alg: 'HS256', kid: 5 }, claims: { sub: 'a' } }), 'invalid_token: missing kid');
  await refuse(mintToken({ kid: 'sk_id_nope', secret: SK, claims: { sub: 'a' } }), 'invalid_token: unknown kid');
  await refuse(mintToken({ kid: PK, secret: SK, claims: { sub: 'a' } }), 'invalid_token: unknown kid');
  await refuse(mintToken({ kid: SK, secret: SK, claims: { sub: 'a' } }), 'invalid_token: unknown kid');
  // Wrong secret, secret without its prefix, another key's secret, a tampered payload/signature.
  await refuse(mintToken({ kid: SK_ID, secret: SK2, claims: { sub: 'a' } }), 'invalid_token: bad signature');
  await refuse(mintToken({ kid: SK_ID, secret: SK.slice('sk_secret_'.length), claims: { sub: 'a' } }), 'invalid_token: bad signature');
  const good = tok({});
  const [h, p, s] = good.split('.');
  const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  await refuse(`${h}.${p}.${flipped}`, 'invalid_token: bad signature');
  await refuse(`${h}.${b64url(JSON.stringify({ sub: 'mallory', exp: now() + 60 }))}.${s}`, 'invalid_token: bad signature');
  await refuse(`${h}.${p}.${s.slice(0, -3)}`, 'invalid_token: bad signature'); // 40 chars: valid base64url
  await refuse(`${h}.${p}.`, 'invalid_token: bad signature'); // empty signature
});

test('rules 6–9: exp, lifetime, nbf, iat', async () => {
  await refuse(mintToken({ kid: SK_ID, secret: SK, payloadText: '{"sub":"a"}' }), 'invalid_token: missing exp');
  for (const exp of ['"9999999999"', 'null', 'true', '[1]']) {
    await refuse(mintToken({ kid: SK_ID, secret: SK, payloadText: `{"sub":"a","exp":${exp}}` }), 'invalid_token: missing exp');
  }
  // Lifetime: exp − now ≤ 86400 + 30.
  await refuse(tok({ exp: now() + 86400 + 90 }), 'invalid_token: lifetime too long');
  const ok = await open(tok({ exp: now() + 86400 }));
  assert.equal(ok.peerId, 'alice');
  // The key's app's lifetime applies.
  await refuse(mintToken({ kid: SK3_ID, secret: SK3, claims: { sub: 'a', exp: now() + 3600 + 90 } }), 'invalid_token: lifetime too long');
  const ok3 = await open(mintToken({ kid: SK3_ID, secret: SK3, claims: { sub: 'a', exp: now() + 3500 } }));
  assert.equal(ok3.peerId, 'a');
  // nbf / iat.
  await refuse(tok({ nbf: now() + 120 }), 'invalid_token: not yet valid');
  await refuse(tok({ nbf: 'x' }), 'invalid_token: not yet valid');
  await refuse(tok({ iat: now() + 120 }), 'invalid_token: iat in the future');
  await refuse(tok({ iat: null }), 'invalid_token: iat in the future');
  const c = await open(tok({ nbf: now() + 5, iat: now() + 5 })); // within the 30 s leeway
  assert.equal(c.peerId, 'alice');
  const d = await open(tok({ nbf: now() - 1000, iat: now() - 1000 }));
  assert.equal(d.peerId, 'alice');
  // Order: lifetime (7) before nbf (8) before iat (9) before sub (10).
  await refuse(tok({ exp: now() + 200000, nbf: now() + 1000, sub: '' }), 'invalid_token: lifetime too long');
  await refuse(tok({ nbf: now() + 1000, iat: now() + 1000, sub: '' }), 'invalid_token: not yet valid');
  await refuse(tok({ iat: now() + 1000, sub: '' }), 'invalid_token: iat in the future');
});

test('expired token at admission → 4002 token_expired (after the 4001 checks)', async () => {
  await refuse(tok({ exp: now() - 10 }), 'token_expired', 4002);
  await refuse(tok({ exp: now() - 100000 }), 'token_expired', 4002);
  // exp at now: the deadline exp*1000−250 ms has passed.
  await refuse(tok({ exp: now() }), 'token_expired', 4002);
  // A 4001 problem wins over expiry.
  await refuse(tok({ exp: now() - 10, sub: '' }), 'invalid_token: bad sub');
  await refuse(mintToken({ kid: SK_ID, secret: SK2, claims: { sub: 'a', exp: now() - 10 } }), 'invalid_token: bad signature');
});

test('rule 10: sub', async () => {
  for (const sub of ['', 'x'.repeat(129), 'é', 'a\u0000', 'a\u007f', 'tab\t', 5, null, ['a'], undefined]) {
    const claims = { exp: now() + 60 };
    if (sub !== undefined) claims.sub = sub;
    await refuse(mintToken({ kid: SK_ID, secret: SK, payloadText: JSON.stringify(claims) }), 'invalid_token: bad sub');
  }
});

test('rules 11–14: channels, permissions, peerMetadata, metadata', async () => {
  await refuse(tok({ channels: 'room-*' }), 'invalid_token: bad channels');
  await refuse(tok({ channels: ['a***'] }), 'invalid_token: bad channels');
  await refuse(tok({ channels: [''] }), 'invalid_token: bad channels');
  await refuse(tok({ channels: [5] }), 'invalid_token: bad channels');
  await refuse(tok({ channels: ['x'.repeat(257)] }), 'invalid_token: bad channels');
  await refuse(tok({ channels: Array.from({ length: 101 }, (_, i) => `c${i}`) }), 'invalid_token: bad channels');
  assert.equal((await open(tok({ channels: Array.from({ length: 100 }, (_, i) => `c${i}`) }))).peerId, 'alice');

  await refuse(tok({ permissions: 'publish' }), 'invalid_token: bad permissions');
  await refuse(tok({ permissions: ['admin'] }), 'invalid_token: bad permissions');
  await refuse(tok({ permissions: ['Publish'] }), 'invalid_token: bad permissions');
  await refuse(tok({ permissions: Array(17).fill('publish') }), 'invalid_token: bad permissions');
  assert.equal((await open(tok({ permissions: Array(16).fill('publish') }))).peerId, 'alice');

  for (const pm of ['x', 5, [1], true]) await refuse(tok({ peerMetadata: pm }), 'invalid_token: bad peerMetadata');
  const pmText = (n) => `{"k":"${'x'.repeat(n - 8)}"}`; // n bytes of JSON text
  await refuse(mintToken({ kid: SK_ID, secret: SK, payloadText: `{"sub":"a","exp":${now() + 60},"peerMetadata":${pmText(4097)}}` }), 'invalid_token: peerMetadata too large');
  assert.equal((await open(mintToken({ kid: SK_ID, secret: SK, payloadText: `{"sub":"a","exp":${now() + 60},"peerMetadata":${pmText(4096)}}` }))).peerId, 'a');

  for (const md of ['x', 5, [1], false]) await refuse(tok({ metadata: md }), 'invalid_token: bad metadata');
  await refuse(mintToken({ kid: SK_ID, secret: SK, payloadText: `{"sub":"a","exp":${now() + 60},"metadata":${pmText(8193)}}` }), 'invalid_token: metadata too large');
  const big = await open(mintToken({ kid: SK_ID, secret: SK, payloadText: `{"sub":"a","exp":${now() + 60},"metadata":${pmText(8192)}}` }));
  assert.equal(Object.keys(big.welcome.metadata).length, 1);

  // Order: channels (11) before permissions (12) before peerMetadata (13) before metadata (14).
  await refuse(tok({ channels: 5, permissions: 5, peerMetadata: 5, metadata: 5 }), 'invalid_token: bad channels');
  await refuse(tok({ permissions: 5, peerMetadata: 5, metadata: 5 }), 'invalid_token: bad permissions');
  await refuse(tok({ peerMetadata: 5, metadata: 5 }), 'invalid_token: bad peerMetadata');
});

test('scope: token channels narrow the key\'s channelPatterns', async () => {
  const c = await open(tok({ channels: ['room-*'] }));
  await subscribe(c, 'room-1');
  await expectError(c, { type: 'subscribe', channel: 'lobby' }, 'channel_not_authorized');
  await expectError(c, { type: 'publish', channel: 'lobby', data: 1 }, 'channel_not_authorized');
  await expectAck(c, { type: 'publish', channel: 'room-2', data: 1 });
  await expectAck(c, { type: 'subscribe', channel: 'room-*' });
  await expectError(c, { type: 'subscribe', channel: 'room-1*' }, 'channel_not_authorized');

  // Key a/** and token **: the key still limits.
  const d = await open(mintToken({ kid: SK2_ID, secret: SK2, claims: { sub: 'dora', channels: ['**'] } }));
  await subscribe(d, 'a/x');
  await expectError(d, { type: 'subscribe', channel: 'b' }, 'channel_not_authorized');
  await expectError(d, { type: 'subscribe', channel: '**' }, 'channel_not_authorized'); // not covered by a/**
  await expectAck(d, { type: 'subscribe', channel: 'a/*' });

  // An empty channels array authorizes nothing.
  const e = await open(tok({ channels: [] }));
  await expectError(e, { type: 'subscribe', channel: 'anything' }, 'channel_not_authorized');
  await expectError(e, { type: 'publish', channel: 'anything', data: 1 }, 'channel_not_authorized');
});

test('scope: token permissions narrow the key\'s actions', async () => {
  const target = await open(tok({ sub: 'target' }));
  const c = await open(tok({ permissions: ['subscribe'] }));
  await expectAck(c, { type: 'subscribe', channel: 'perm' });
  await c.none('presence', 300); // no presence permission: no snapshot
  await expectError(c, { type: 'publish', channel: 'perm', data: 1 }, 'action_not_permitted');
  await expectError(c, { type: 'send', to: 'target', data: 1 }, 'action_not_permitted');
  // Key actions subscribe+presence: a token granting publish/send does not add them.
  const d = await open(mintToken({ kid: SK2_ID, secret: SK2, claims: { sub: 'dora', permissions: ['subscribe', 'publish', 'send', 'presence'] } }));
  await expectError(d, { type: 'publish', channel: 'a/x', data: 1 }, 'action_not_permitted');
  await expectError(d, { type: 'send', to: 'target', data: 1 }, 'action_not_permitted');
  await subscribe(d, 'a/x');
  // Empty permissions: nothing.
  const e = await open(tok({ permissions: [] }));
  await expectError(e, { type: 'subscribe', channel: 'x' }, 'action_not_permitted');
  await expectAck(e, { type: 'unsubscribe', channel: 'x' }); // needs no action
  await target.none('direct', 100);
});

test('a secret key (default actions: all four) may send; the publishable key here may not', async () => {
  const a = await open(tok({ sub: 'sender' }));
  const b = await open(tok({ sub: 'receiver' }));
  await expectAck(a, { type: 'send', to: 'receiver', data: 1 });
  assert.deepEqual(await b.next('direct'), { type: 'direct', from: 'sender', data: 1 });
  const p = await RawClient.open(srv.ws, { key: PK });
  cleanup.push(p);
  await expectError(p, { type: 'send', to: 'receiver', data: 1 }, 'action_not_permitted');
});
