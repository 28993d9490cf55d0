// TURN credential injection against a real coturn (PROTOCOL.md §16, §3.6, §1.2, Appendix B):
// the iceServers parleyd injects into welcome.metadata are accepted by a coturn started here with
// use-auth-secret (turnutils_uclient allocates a relay over UDP and TCP and relays traffic), and a
// tampered credential, username or secret is rejected; usernames are "<admission + ttl>:<peerId>",
// credentials HMAC-SHA1; token metadata passes through, a token's own iceServers wins,
// auto_inject_turn = false and apps without turn get nothing; bad turn settings are refused at load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { startCoturn, uclient } from '../lib/coturn.mjs';
import { controlConfig, turnCredential, nowSec, sleep } from '../lib/control.mjs';

const SECRET = 'coturn-shared-secret-for-parley-tests';
const key = (tag) => ({
  pk: `pk_live_turncoturn00000000000000000000${tag}`,
  id: `sk_id_turncoturn000000000000000000000${tag}`,
  secret: `sk_secret_turncoturn0000000000000000${tag}`,
});
const T = key('tur'); // app with coturn's secret, ttl 600
const NOINJ = 'pk_live_turncoturn00000000000000000noinject';
const V = key('vec'); // Appendix B secret
const S = key('stn'); // stun only
const U = key('tno'); // turn only
const N = key('non'); // no turn at all
const X = key('ttl'); // ttl 3

let coturn;
let srv;
let urls;
const clients = [];

before(async () => {
  coturn = await startCoturn({ secret: SECRET });
  const p = coturn.port;
  urls = { stun: `stun:127.0.0.1:${p}`, udp: `turn:127.0.0.1:${p}?transport=udp`, tcp: `turn:127.0.0.1:${p}?transport=tcp` };
  const keysOf = (k, extra = []) => [
    { type: 'publishable', id: k.pk, channels: ['**'] },
    { type: 'secret', id: k.id, secret: k.secret, channels: ['**'] },
    ...extra,
  ];
  srv = await startParleyd({
    config: controlConfig({
      apps: [
        { id: 'turn', turn: { secret: SECRET, urls: [urls.stun, urls.udp, urls.tcp], ttl: 600 }, keys: keysOf(T, [{ type: 'publishable', id: NOINJ, channels: ['**'], auto_inject_turn: false }]) },
        { id: 'vector', turn: { secret: 'parley-turn-secret', urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'] }, keys: keysOf(V) },
        { id: 'stun-only', turn: { secret: SECRET, urls: ['stun:a.example.com:3478', 'stuns:b.example.com:5349'] }, keys: keysOf(S) },
        { id: 'turn-only', turn: { secret: SECRET, urls: ['turns:b.example.com:5349', 'turn:a.example.com:3478'], ttl: 60 }, keys: keysOf(U) },
        { id: 'no-turn', keys: keysOf(N) },
        { id: 'short-ttl', turn: { secret: SECRET, urls: [urls.udp], ttl: 3 }, keys: keysOf(X) },
      ],
    }),
  });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await srv?.stop();
  await coturn?.stop();
});

async function open(opts) {
  const c = await RawClient.open(srv.ws, opts);
  clients.push(c);
  return c;
}
const jwt = (k, claims) => mintToken({ kid: k.id, secret: k.secret, claims });

// Asserts the TURN entry's username/credential follow §16 for `peerId`, with the expiry within
// [t0 + ttl, t1 + ttl] (admission happened between t0 and t1); returns the entry.
function checkCredentials(entry, { peerId, ttl, t0, t1, secret = SECRET }) {
  assert.deepEqual(Object.keys(entry).sort(), ['credential', 'urls', 'username']);
  const i = entry.username.indexOf(':');
  const expiry = Number(entry.username.slice(0, i));
  assert.match(entry.username.slice(0, i), /^\d+$/);
  assert.equal(entry.username.slice(i + 1), peerId);
  assert.ok(expiry >= t0 + ttl - 1 && expiry <= t1 + ttl + 1, `expiry ${expiry} not admission + ${ttl} (${t0}..${t1})`);
  assert.equal(entry.credential, turnCredential(secret, entry.username));
  assert.match(entry.credential, /^[A-Za-z0-9+/]{27}=$/, 'standard base64 with padding');
  return entry;
}

function assertAccepted(r, what) {
  assert.equal(r.code, 0, `${what}: coturn refused valid credentials (exit ${r.code}):\n${r.output.slice(-1500)}\ncoturn:\n${coturn.log().slice(-1500)}`);
  const all = [...r.output.matchAll(/tot_recv_msgs=(\d+)/g)];
  assert.ok(all.length > 0 && Number(all.at(-1)[1]) > 0, `${what}: no traffic relayed:\n${r.output.slice(-800)}`);
}
function assertRejected(r, what) {
  assert.notEqual(r.code, 0, `${what}: coturn accepted bad credentials:\n${r.output.slice(-800)}`);
  assert.match(r.output, /Cannot complete Allocation|401|Unauthorized/i, `${what}: ${r.output.slice(-800)}`);
}

test('publishable key: iceServers = stun entry, then turn entry with credentials; coturn accepts them over UDP and TCP', async () => {
  const t0 = nowSec();
  const c = await open({ key: T.pk });
  const t1 = nowSec();
  const md = c.welcome.metadata;
  assert.deepEqual(Object.keys(md), ['iceServers']);
  assert.equal(md.iceServers.length, 2);
  assert.deepEqual(md.iceServers[0], { urls: [urls.stun] });
  const turn = checkCredentials(md.iceServers[1], { peerId: c.peerId, ttl: 600, t0, t1 });
  assert.deepEqual(turn.urls, [urls.udp, urls.tcp]);
  const [udp, tcp, badCred, badUser, badSecret] = await Promise.all([
    uclient({ port: coturn.port, username: turn.username, credential: turn.credential }),
    uclient({ port: coturn.port, username: turn.username, credential: turn.credential, tcp: true }),
    // Tampered credential (one character changed).
    uclient({ port: coturn.port, username: turn.username, credential: `${turn.credential[0] === 'A' ? 'B' : 'A'}${turn.credential.slice(1)}` }),
    // The credential of this username used for another peerId.
    uclient({ port: coturn.port, username: turn.username.replace(/:.*/, ':someone-else'), credential: turn.credential }),
    // Signed with another secret.
    uclient({ port: coturn.port, username: turn.username, credential: turnCredential('not-the-secret', turn.username) }),
  ]);
  assertAccepted(udp, 'UDP');
  assertAccepted(tcp, 'TCP');
  assertRejected(badCred, 'tampered credential');
  assertRejected(badUser, 'tampered username');
  assertRejected(badSecret, 'wrong secret');
});

test('JWT: a peerId containing ":" (expiry = text before the first ":"); token metadata is kept and iceServers added; coturn accepts', async () => {
  // (coturn itself refuses usernames containing a space, so this peerId has none.)
  const sub = 'team:7:bob';
  const metadata = { room: 'r1', nested: { a: [1, 2] }, flag: false };
  const t0 = nowSec();
  const c = await open({ token: jwt(T, { sub, metadata }) });
  const t1 = nowSec();
  const md = c.welcome.metadata;
  assert.deepEqual(Object.keys(md).sort(), ['flag', 'iceServers', 'nested', 'room']);
  assert.deepEqual({ ...md, iceServers: undefined }, { ...metadata, iceServers: undefined });
  assert.deepEqual(md.iceServers[0], { urls: [urls.stun] });
  const turn = checkCredentials(md.iceServers[1], { peerId: sub, ttl: 600, t0, t1 });
  assert.ok(turn.username.startsWith(`${turn.username.split(':')[0]}:team:7:`));
  assertAccepted(await uclient({ port: coturn.port, username: turn.username, credential: turn.credential }), 'peerId with colons');
  // Any printable peerId gets the same scheme (checked by recomputing the HMAC only).
  for (const odd of ['bob smith', ':lead', '~!@#$%^&*()_+{}|"<>?']) {
    const o0 = nowSec();
    const o = await open({ token: jwt(T, { sub: odd }) });
    checkCredentials(o.welcome.metadata.iceServers[1], { peerId: odd, ttl: 600, t0: o0, t1: nowSec() });
  }
});

test('a token\'s own metadata.iceServers wins and is passed through unchecked', async () => {
  for (const iceServers of [[{ urls: 'stun:custom.example.com' }], [], null, 'not-even-an-array', [{ urls: ['turn:x'], username: 'u', credential: 'c' }, 7]]) {
    const metadata = { iceServers, other: 1 };
    const c = await open({ token: jwt(T, { sub: 'own-ice', metadata }) });
    assert.deepEqual(c.welcome.metadata, metadata);
    await c.close();
  }
});

test('auto_inject_turn = false: publishable connections get no metadata; JWT connections still do', async () => {
  const c = await open({ key: NOINJ });
  assert.equal('metadata' in c.welcome, false, JSON.stringify(c.welcome));
  assert.deepEqual(Object.keys(c.welcome).sort(), ['expiresAt', 'maxMessageSize', 'peerId', 'serverTime', 'type']);
  const d = await open({ token: jwt(T, { sub: 'jwt-peer' }) });
  assert.equal(d.welcome.metadata.iceServers.length, 2);
});

test('stun-only and turn-only settings give one entry; apps without turn get no metadata', async () => {
  const s = await open({ key: S.pk });
  assert.deepEqual(s.welcome.metadata, { iceServers: [{ urls: ['stun:a.example.com:3478', 'stuns:b.example.com:5349'] }] });
  const t0 = nowSec();
  const u = await open({ key: U.pk });
  const t1 = nowSec();
  assert.equal(u.welcome.metadata.iceServers.length, 1);
  const entry = checkCredentials(u.welcome.metadata.iceServers[0], { peerId: u.peerId, ttl: 60, t0, t1 });
  assert.deepEqual(entry.urls, ['turns:b.example.com:5349', 'turn:a.example.com:3478']);
  const n = await open({ key: N.pk });
  assert.equal('metadata' in n.welcome, false);
  const nj = await open({ token: jwt(N, { sub: 'x' }) });
  assert.equal('metadata' in nj.welcome, false);
  const njm = await open({ token: jwt(N, { sub: 'x', metadata: { a: 1 } }) });
  assert.deepEqual(njm.welcome.metadata, { a: 1 });
});

test('Appendix B TURN vector: secret parley-turn-secret, 1700003600:alice → 6r8k1MyC8cC+sI6WSQ0dlvvaZI4=; parleyd computes the same HMAC', async () => {
  assert.equal(turnCredential('parley-turn-secret', '1700003600:alice'), '6r8k1MyC8cC+sI6WSQ0dlvvaZI4=');
  const t0 = nowSec();
  const c = await open({ token: jwt(V, { sub: 'alice' }) });
  const t1 = nowSec();
  const ice = c.welcome.metadata.iceServers;
  assert.equal(ice.length, 1);
  assert.deepEqual(ice[0].urls, ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349']);
  checkCredentials(ice[0], { peerId: 'alice', ttl: 86400, t0, t1, secret: 'parley-turn-secret' });
});

test('every connection gets fresh credentials computed at admission', async () => {
  const a = await open({ token: jwt(T, { sub: 'fresh' }) });
  await sleep(1200);
  const b = await open({ token: jwt(T, { sub: 'fresh' }) });
  const ua = a.welcome.metadata.iceServers[1].username;
  const ub = b.welcome.metadata.iceServers[1].username;
  assert.ok(Number(ub.split(':')[0]) > Number(ua.split(':')[0]), `${ua} then ${ub}`);
});

test('the expiry is real: a ttl = 3 credential works at once and coturn refuses it once expired', async () => {
  const c = await open({ key: X.pk });
  const turn = c.welcome.metadata.iceServers[0];
  const expiry = Number(turn.username.split(':')[0]);
  assert.ok(expiry >= nowSec() + 1 && expiry <= nowSec() + 4, `expiry ${expiry}`);
  assertAccepted(await uclient({ port: coturn.port, username: turn.username, credential: turn.credential }), 'fresh short-ttl credential');
  await sleep(Math.max(0, (expiry + 2) * 1000 - Date.now()));
  assertRejected(await uclient({ port: coturn.port, username: turn.username, credential: turn.credential }), 'expired credential');
});

test('invalid turn settings are refused at configuration load (exit code 2)', async () => {
  const bad = [
    { secret: SECRET, urls: [] },
    { secret: SECRET, urls: ['http://turn.example.com'] },
    { secret: SECRET, urls: [''] },
    { secret: SECRET, urls: [`turn:${'a'.repeat(520)}.example.com`] },
    { secret: SECRET, urls: Array.from({ length: 17 }, (_, i) => `stun:s${i}.example.com`) },
    { urls: ['stun:a.example.com'] },
    { secret: SECRET },
  ];
  for (const turn of bad) {
    const config = controlConfig({ apps: [{ id: 'bad', turn, keys: [{ type: 'publishable', id: 'pk_live_turnbad000000000000000000000000000', channels: ['**'] }] }] });
    await assert.rejects(startParleyd({ config }), (e) => /exited \(2\)/.test(e.message), `accepted turn = ${JSON.stringify(turn).slice(0, 200)}`);
  }
  // 16 URLs are fine.
  const ok = await startParleyd({ config: controlConfig({ apps: [{ id: 'ok', turn: { secret: SECRET, urls: Array.from({ length: 16 }, (_, i) => `stun:s${i}.example.com`) }, keys: [{ type: 'publishable', id: 'pk_live_turnok0000000000000000000000000000', channels: ['**'] }] }] }) });
  await ok.stop();
});
