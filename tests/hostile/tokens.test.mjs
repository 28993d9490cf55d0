// Forged and replayed credentials (PROTOCOL.md §3.1-§3.3, §13.1, §1.2): every forgery is closed
// 4001 with the reason of the first failing rule, replays of an expired or revoked token are
// refused, a valid token replayed on many connections is one peer, and a revoked key closes the
// connections it admitted — all while a well-behaved pair keeps exchanging messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { mintToken, b64url } from '../lib/jwt.mjs';
import { RawWs } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';
import { startPair, watchRss, sleep } from '../lib/hostile.mjs';

const now = () => Math.floor(Date.now() / 1000);
const sk = { kid: defaultKeys.skId, secret: defaultKeys.skSecret };
const victimKey = { kid: 'sk_id_victim000000000000000000000000000', secret: 'sk_secret_victim0000000000000000000000000' };

// The app "test" with a high per-connection rate; with `withVictim`, a second secret key whose
// tokens the replay test revokes.
function configText({ withVictim = true } = {}) {
  const base = buildConfig({
    server: { connect_burst_per_ip: 100000, connect_rate_per_ip: 100000 },
    app: { rate_limit_per_second: 100000, rate_limit_burst: 100000, max_token_lifetime: 3600 },
  });
  return withVictim ? `${base}[[apps.keys]]
type = "secret"
id = "${victimKey.kid}"
secret = "${victimKey.secret}"
channels = ["**"]
` : base;
}

// Starts parleyd on a config file this test can rewrite, for SIGHUP reloads.
async function startReloadable(t) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-hostile-'));
  const file = join(dir, 'parley.toml');
  writeFileSync(file, configText());
  const srv = await startParleyd({ config: null, args: ['--config', file], env: { ASAN_OPTIONS: 'detect_leaks=1:quarantine_size_mb=8' } });
  t.after(async () => { await srv.stop(); rmSync(dir, { recursive: true, force: true }); });
  return { srv, file };
}

// Connects with ?token= and returns the close { code, reason } (the connection must not be welcomed).
async function refused(srv, token) {
  const c = await RawWs.connect(srv, { query: `token=${encodeURIComponent(token)}` });
  try {
    assert.equal(c.response.status, 101);
    const cl = await c.closed(10000);
    assert.deepEqual(c.all.filter((f) => f.json?.type === 'welcome'), [], 'no welcome');
    return cl;
  } finally {
    c.destroy();
  }
}

test('forged tokens are closed 4001 with the reason of the first failing rule', async (t) => {
  const { srv } = await startReloadable(t);
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const valid = mintToken({ ...sk, claims: { sub: 'alice' } });
  const [h, p, s] = valid.split('.');
  const forgedPayload = b64url(JSON.stringify({ sub: 'admin', exp: now() + 60 }));
  const sign = (input, secret) => createHmac('sha256', secret).update(input).digest('base64url');
  const cases = [
    ['another secret', mintToken({ kid: sk.kid, secret: 'sk_secret_guess', claims: { sub: 'alice' } }), 'invalid_token: bad signature'],
    ['payload swapped under a valid signature', `${h}.${forgedPayload}.${s}`, 'invalid_token: bad signature'],
    ['signature of another token', `${h}.${p}.${mintToken({ ...sk, claims: { sub: 'bob' } }).split('.')[2]}`, 'invalid_token: bad signature'],
    ['signature spelled with padding', `${valid}=`, 'invalid_token: malformed'],
    ['signature in standard base64', `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`, 'invalid_token: malformed'],
    ['empty signature', `${h}.${p}.`, 'invalid_token: bad signature'],
    ['alg none', `${b64url('{"alg":"none","kid":"' + sk.kid + '"}')}.${p}.`, 'invalid_token: unsupported alg'],
    ['alg HS512', mintToken({ ...sk, header: { alg: 'HS512', kid: sk.kid }, claims: { sub: 'alice' } }), 'invalid_token: unsupported alg'],
    ['alg hs256 lower case', mintToken({ ...sk, header: { alg: 'hs256', kid: sk.kid }, claims: { sub: 'alice' } }), 'invalid_token: unsupported alg'],
    ['kid of a publishable key, signed with it', mintToken({ kid: defaultKeys.pk, secret: defaultKeys.pk, claims: { sub: 'alice' } }), 'invalid_token: unknown kid'],
    ['unknown kid', mintToken({ kid: 'sk_id_nobody', secret: sk.secret, claims: { sub: 'alice' } }), 'invalid_token: unknown kid'],
    ['kid as a number', mintToken({ ...sk, header: { alg: 'HS256', kid: 1 }, claims: { sub: 'alice' } }), 'invalid_token: missing kid'],
    ['secret used as kid', mintToken({ kid: sk.secret, secret: sk.secret, claims: { sub: 'alice' } }), 'invalid_token: unknown kid'],
    ['four segments', `${valid}.${s}`, 'invalid_token: malformed'],
    ['duplicate alg in the header', `${b64url('{"alg":"none","alg":"HS256","kid":"' + sk.kid + '"}')}.${p}.${sign(`${b64url('{"alg":"none","alg":"HS256","kid":"' + sk.kid + '"}')}.${p}`, sk.secret)}`, 'invalid_token: malformed'],
    ['lifetime beyond the app maximum', mintToken({ ...sk, claims: { sub: 'alice', exp: now() + 7200 } }), 'invalid_token: lifetime too long'],
    ['exp of -1e300', mintToken({ ...sk, payloadText: '{"sub":"alice","exp":-1e300}' }), 'token_expired'],
  ];
  for (const [name, token, reason] of cases) {
    const cl = await refused(srv, token);
    assert.deepEqual(cl, { code: reason === 'token_expired' ? 4002 : 4001, reason }, name);
  }
  // A swarm of forgeries at once.
  const swarm = await Promise.all(Array.from({ length: 100 }, (_, i) => refused(srv, `${h}.${b64url(JSON.stringify({ sub: `x${i}`, exp: now() + 60 }))}.${s}`)));
  for (const cl of swarm) assert.deepEqual(cl, { code: 4001, reason: 'invalid_token: bad signature' });
  await pair.progress(10);
  await pair.check();
});

test('tokens that nearly fill the request head are admitted without stalling other connections', async (t) => {
  const { srv } = await startReloadable(t);
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  // ~42 KB of header JSON with 4500 distinct members, under a valid signature: the parser,
  // not the signature, decides. Then the same as the payload.
  const members = Array.from({ length: 4500 }, (_, i) => `"h${i}":0`).join(',');
  const header = `{"alg":"HS256","kid":"${sk.kid}",${members}}`;
  const huge = [
    mintToken({ ...sk, headerText: header, claims: { sub: 'alice' } }),
    mintToken({ ...sk, payloadText: `{"sub":"alice","exp":${now() + 60},${members}}` }),
  ];
  for (const token of huge) assert.ok(token.length < 63 * 1024, `${token.length} bytes`);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => RawWs.connect(srv, { query: `token=${huge[i % 2]}`, timeoutMs: 60000 })
    .then(async (c) => {
      const r = c.response.status === 101 ? await c.nextJson('welcome', 60000).catch(() => c.closeFrame) : c.response.status;
      c.destroy();
      return r;
    })));
  // Both are well-formed: 40 admissions as alice (they are valid tokens, just big).
  for (const r of results) assert.equal(r?.peerId ?? r, 'alice', JSON.stringify(r));
  await pair.progress(10);
  const mem = rss.stop();
  t.diagnostic(`40 tokens of ${huge[0].length} bytes; parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  await pair.check();
});

test('replayed tokens: one valid token on many connections is one peer; expired and revoked replays are refused', async (t) => {
  const { srv, file } = await startReloadable(t);
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const watcher = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await watcher.request({ type: 'subscribe', channel: 'replay' })).type, 'ack');
  await watcher.next('presence');

  // The same token on 20 connections: 20 connections of peer "mallory", one presence entry.
  const token = mintToken({ ...victimKey, claims: { sub: 'mallory', exp: now() + 600 } });
  const conns = [];
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.open(srv.ws, { token });
    assert.equal(c.peerId, 'mallory');
    assert.equal((await c.request({ type: 'subscribe', channel: 'replay' })).type, 'ack');
    conns.push(c);
  }
  const delta = await watcher.next('presence');
  assert.deepEqual(delta.joined.map((j) => j.peerId), ['mallory']);
  await watcher.none((f) => f.type === 'presence', 300);
  // A direct to mallory reaches every replaying connection once.
  assert.equal((await watcher.request({ type: 'send', to: 'mallory', data: { hi: 1 } })).type, 'ack');
  for (const c of conns) assert.deepEqual((await c.next('direct')).data, { hi: 1 });

  // Replay of an expired token: 4002. (exp 1 s ago; no leeway on exp.)
  const expired = mintToken({ ...victimKey, claims: { sub: 'mallory', exp: now() - 1 } });
  assert.deepEqual(await refused(srv, expired), { code: 4002, reason: 'token_expired' });

  // Revoke the key (remove it, SIGHUP): its connections close 4001 key_revoked, and the same
  // token replayed afterwards names an unknown kid.
  writeFileSync(file, configText({ withVictim: false }));
  srv.proc.kill('SIGHUP');
  for (const c of conns) assert.deepEqual(await c.closedWith(65000), { code: 4001, reason: 'key_revoked' });
  assert.deepEqual(await refused(srv, token), { code: 4001, reason: 'invalid_token: unknown kid' });
  const left = await watcher.next('presence', 10000);
  assert.deepEqual(left.left, [{ peerId: 'mallory' }]);
  assert.equal(watcher.closed, null);
  await watcher.close();
  await sleep(100);
  await pair.progress(5);
  await pair.check();
});
