// SIGHUP reload (PROTOCOL.md §1.2, §3.4, §3.5; docs/configuration.md "Reload"): a removed key's
// connections close with 4001 key_revoked (publishable and JWT alike) and the key stops working
// for WebSocket and REST; a key moved to another app likewise; suspended = true closes live
// connections with 4012 and refuses new ones; an invalid file is refused and the running
// configuration stays; reloadable settings (caps, key patterns, TURN) apply to later operations;
// `parleyd keys new` prints TOML that parses and that parleyd accepts, at start and on reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startParleyd, binary } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { expectRefused, expectAck, expectError } from '../lib/proto.mjs';
import { controlConfig, reload, restClient, until, sleep } from '../lib/control.mjs';

const key = (tag) => ({
  pk: `pk_live_reload0000000000000000000000000${tag}`,
  id: `sk_id_reload00000000000000000000000000${tag}`,
  secret: `sk_secret_reload0000000000000000000000${tag}`,
});
const A = key('aaa');
const B = key('bbb');
const keysOf = (k, { channels = ['**'] } = {}) => [
  { type: 'publishable', id: k.pk, channels, actions: ['subscribe', 'publish', 'presence', 'send'] },
  { type: 'secret', id: k.id, secret: k.secret, channels },
];
// The connection is open and answers (queued frames are left alone).
async function pingBarrier(c) {
  assert.equal(c.closed, null, `closed: ${JSON.stringify(c.closed)}`);
  c.send({ type: 'ping' });
  await c.next('pong');
}
const jwt = (k, sub) => mintToken({ kid: k.id, secret: k.secret, claims: { sub } });

async function start(t, apps, server) {
  const srv = await startParleyd({ config: controlConfig({ apps, server }) });
  const opened = [];
  t.after(async () => {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await srv.stop();
  });
  srv.open = async (opts) => {
    const c = await RawClient.open(srv.ws, opts);
    opened.push(c);
    return c;
  };
  return srv;
}

// Connects until admission succeeds (the reload is asynchronous); returns the client.
async function openWhenAdmitted(srv, opts, timeoutMs = 10000) {
  return until(async () => {
    const c = await RawClient.connect(srv.ws, opts);
    const r = await Promise.race([c.next('welcome').then((w) => w).catch(() => null), c.closedWith(6000).then(() => null)]);
    if (r) {
      c.welcome = r;
      c.peerId = r.peerId;
      return c;
    }
    await sleep(100);
    return null;
  }, timeoutMs, 0, `admission with ${JSON.stringify(opts).slice(0, 80)}`);
}

// Waits until a connection attempt is refused with `code` (the reload is asynchronous).
async function refusedEventually(srv, opts, code, reason, timeoutMs = 10000) {
  await until(async () => {
    const c = await RawClient.connect(srv.ws, opts);
    const r = await Promise.race([c.next('welcome').then(() => 'welcome').catch(() => 'closed'), c.closedWith(6000).then(() => 'closed')]);
    if (r === 'welcome') { await c.close(); await sleep(100); return false; }
    return true;
  }, timeoutMs, 0, `refusal of ${JSON.stringify(opts).slice(0, 80)}`);
  await expectRefused(srv.ws, opts, code, reason);
}

test('removing keys: their connections close 4001 key_revoked; the keys stop working; other keys are untouched', async (t) => {
  const apps = (withA) => [{ id: 'app', keys: [...(withA ? keysOf(A) : []), ...keysOf(B)] }];
  const srv = await start(t, apps(true));
  const pkConn = await srv.open({ key: A.pk });
  const jwtConn = await srv.open({ token: jwt(A, 'alice') });
  const other = await srv.open({ key: B.pk });
  const otherJwt = await srv.open({ token: jwt(B, 'bob') });
  await expectAck(other, { type: 'subscribe', channel: 'room' });
  await expectAck(pkConn, { type: 'subscribe', channel: 'room' });
  assert.equal((await restClient(srv, A).get('/v1/usage')).status, 200);

  reload(srv, controlConfig({ apps: apps(false) }));
  for (const c of [pkConn, jwtConn]) {
    const closed = await c.closedWith(60000);
    assert.deepEqual(closed, { code: 4001, reason: 'key_revoked' });
  }
  // The remaining member sees the revoked one leave; B's connections stay.
  assert.deepEqual(await other.next((f) => f.type === 'presence' && f.left.length > 0), { type: 'presence', channel: 'room', joined: [], left: [{ peerId: pkConn.peerId }] });
  await pingBarrier(other);
  await pingBarrier(otherJwt);
  // The removed keys are unknown now.
  await expectRefused(srv.ws, { key: A.pk }, 4001, 'invalid_key');
  await expectRefused(srv.ws, { token: jwt(A, 'alice') }, 4001, 'invalid_token: unknown kid');
  const r = await restClient(srv, A).get('/v1/usage');
  assert.deepEqual({ status: r.status, json: r.json }, { status: 401, json: { error: 'unauthorized', message: 'invalid credentials' } });
  assert.equal((await restClient(srv, B).get('/v1/usage')).status, 200);
  // Adding the key back makes it work again (new connections only).
  reload(srv, controlConfig({ apps: apps(true) }));
  const back = await openWhenAdmitted(srv, { key: A.pk });
  await back.close();
});

test('a key moved to another app: its connections close 4001 key_revoked; it now works in the new app', async (t) => {
  const srv = await start(t, [{ id: 'one', keys: [...keysOf(A), ...keysOf(B)] }, { id: 'two', keys: [] }]);
  const a = await srv.open({ key: A.pk });
  const aj = await srv.open({ token: jwt(A, 'mover') });
  const b = await srv.open({ key: B.pk });
  reload(srv, controlConfig({ apps: [{ id: 'one', keys: keysOf(B) }, { id: 'two', keys: keysOf(A) }] }));
  assert.deepEqual(await a.closedWith(60000), { code: 4001, reason: 'key_revoked' });
  assert.deepEqual(await aj.closedWith(60000), { code: 4001, reason: 'key_revoked' });
  await pingBarrier(b);
  const u = await until(async () => { const x = await restClient(srv, A).get('/v1/usage'); return x.json?.appId === 'two' && x; }, 10000, 100, 'key in app two');
  assert.equal(u.status, 200);
});

test('suspended = true: live connections close 4012, new ones are refused; unsuspending admits again', async (t) => {
  const apps = (suspended) => [{ id: 'sus', settings: { suspended }, keys: keysOf(A) }, { id: 'other', keys: keysOf(B) }];
  const srv = await start(t, apps(false));
  const a = await srv.open({ key: A.pk });
  const aj = await srv.open({ token: jwt(A, 'carol') });
  const b = await srv.open({ key: B.pk });
  reload(srv, controlConfig({ apps: apps(true) }));
  for (const c of [a, aj]) assert.deepEqual(await c.closedWith(60000), { code: 4012, reason: 'account_suspended' });
  assert.equal(a.all.filter((f) => f.type !== 'welcome').length, 0, 'a close only');
  await expectRefused(srv.ws, { key: A.pk }, 4012, 'account_suspended');
  await expectRefused(srv.ws, { token: jwt(A, 'carol') }, 4012, 'account_suspended');
  await pingBarrier(b);
  reload(srv, controlConfig({ apps: apps(false) }));
  const again = await openWhenAdmitted(srv, { token: jwt(A, 'carol') });
  assert.equal(again.peerId, 'carol');
  await again.close();
});

test('an invalid file on reload is refused: the running configuration stays, a later valid reload applies', async (t) => {
  const apps = [{ id: 'app', keys: keysOf(A) }];
  const srv = await start(t, apps);
  const a = await srv.open({ key: A.pk });
  await expectAck(a, { type: 'subscribe', channel: 'keep' });
  const invalid = [
    '[server\nlisten = ',
    controlConfig({ apps: [{ id: 'app', keys: [...keysOf(A), ...keysOf(B)] }] }) + '\nunknown_option = 1\n',
    controlConfig({ apps: [{ id: 'app', settings: { max_concurrent_connections: 'many' }, keys: [...keysOf(A), ...keysOf(B)] }] }),
    controlConfig({ apps: [{ id: 'app', turn: { secret: 's', urls: ['http://not-turn'] }, keys: [...keysOf(A), ...keysOf(B)] }] }),
    controlConfig({ apps: [{ id: 'app', keys: [...keysOf(A), ...keysOf(B), ...keysOf(B)] }] }), // duplicate key ids
  ];
  for (const text of invalid) {
    reload(srv, text);
    await sleep(700);
    assert.equal(srv.proc.exitCode, null, `parleyd exited on an invalid reload:\n${srv.stderr().slice(-1500)}`);
    // B (only in the refused files) is not known; A and the live connection keep working.
    await expectRefused(srv.ws, { key: B.pk }, 4001, 'invalid_key');
    const again = await srv.open({ key: A.pk });
    await expectAck(again, { type: 'publish', channel: 'keep', data: 1 });
    assert.equal((await a.next('message')).data, 1);
    await again.close();
  }
  assert.equal(a.closed, null);
  // A valid file is applied afterwards.
  reload(srv, controlConfig({ apps: [{ id: 'app', keys: [...keysOf(A), ...keysOf(B)] }] }));
  const b = await openWhenAdmitted(srv, { key: B.pk });
  await b.close();
  await pingBarrier(a);
});

test('reloadable settings apply to later operations: connection cap, key patterns, TURN', async (t) => {
  const apps = ({ cap, channels, turn }) => [{ id: 'app', settings: cap ? { max_concurrent_connections: cap } : {}, turn, keys: keysOf(A, { channels }) }];
  const srv = await start(t, apps({ channels: ['**'] }));
  const c1 = await srv.open({ key: A.pk });
  const c2 = await srv.open({ key: A.pk });
  await expectAck(c1, { type: 'subscribe', channel: 'open/1' });
  assert.equal('metadata' in c1.welcome, false);
  reload(srv, controlConfig({ apps: apps({ cap: 2, channels: ['narrow/*'], turn: { secret: 'reload-turn', urls: ['stun:stun.example.com:3478'] } }) }));
  // The cap applies to new connections; the two established ones stay.
  await refusedEventually(srv, { key: A.pk }, 4010, 'over_connection_limit');
  await pingBarrier(c1);
  await pingBarrier(c2);
  // Key patterns are read at each use; the existing subscription is not re-evaluated.
  await expectError(c2, { type: 'subscribe', channel: 'open/2' }, 'channel_not_authorized');
  await expectAck(c2, { type: 'subscribe', channel: 'narrow/x' });
  await expectAck(c2, { type: 'publish', channel: 'narrow/x', data: 'n' });
  await expectError(c2, { type: 'publish', channel: 'open/1', data: 'o' }, 'channel_not_authorized');
  // TURN settings apply to new connections.
  await c2.close();
  const c3 = await openWhenAdmitted(srv, { key: A.pk });
  assert.deepEqual(c3.welcome.metadata, { iceServers: [{ urls: ['stun:stun.example.com:3478'] }] });
  await c3.close();
});

test('listen is not reloadable: the server keeps serving on its port', async (t) => {
  const srv = await start(t, [{ id: 'app', keys: keysOf(A) }]);
  reload(srv, controlConfig({ server: { listen: '127.0.0.1:1' }, apps: [{ id: 'app', keys: [...keysOf(A), ...keysOf(B)] }] }));
  const b = await openWhenAdmitted(srv, { key: B.pk });
  await b.close();
  assert.equal(srv.proc.exitCode, null);
});

// Parses the TOML subset `keys new` prints: comments, [[apps.keys]] headers, `name = "string"`
// and `name = ["string", …]`. Any other line fails the test.
function parseKeyBlocks(text) {
  const blocks = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line === '[[apps.keys]]') { blocks.push({}); continue; }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(".*"|\[.*\])\s*(#.*)?$/.exec(line);
    assert.ok(m, `not TOML of the expected shape: ${JSON.stringify(raw)}`);
    assert.ok(blocks.length > 0, 'a key outside a [[apps.keys]] table');
    const cur = blocks.at(-1);
    assert.equal(cur[m[1]], undefined, `duplicate key ${m[1]}`);
    cur[m[1]] = JSON.parse(m[2]);
  }
  return blocks;
}

test('`parleyd keys new` prints TOML blocks that parse and that parleyd accepts at start and on reload', async (t) => {
  const run = (...args) => execFileSync(binary, ['keys', 'new', ...args], { encoding: 'utf8' });
  const both = run();
  const blocks = parseKeyBlocks(both);
  assert.equal(blocks.length, 2);
  const [pk, sk] = blocks;
  assert.equal(pk.type, 'publishable');
  assert.match(pk.id, /^pk_live_[A-Za-z0-9]{32,}$/);
  assert.ok(Array.isArray(pk.channels));
  assert.equal(sk.type, 'secret');
  assert.match(sk.id, /^sk_id_[A-Za-z0-9]{32,}$/);
  assert.match(sk.secret, /^sk_secret_[A-Za-z0-9]{32,}$/);
  // Fresh randomness every time.
  const again = parseKeyBlocks(run());
  assert.notEqual(again[0].id, pk.id);
  assert.notEqual(again[1].id, sk.id);
  assert.notEqual(again[1].secret, sk.secret);
  assert.deepEqual(parseKeyBlocks(run('--type', 'publishable')).map((b) => b.type), ['publishable']);
  const secretOnly = parseKeyBlocks(run('--type', 'secret'));
  assert.deepEqual(secretOnly.map((b) => b.type), ['secret']);

  // Pasted under an app, the output is a configuration parleyd starts with.
  const head = controlConfig({ apps: [{ id: 'pasted', keys: [] }] });
  const srv = await startParleyd({ config: `${head}\n${both}` });
  t.after(() => srv.stop());
  const c = await RawClient.open(srv.ws, { key: pk.id });
  const d = await RawClient.open(srv.ws, { token: mintToken({ kid: sk.id, secret: sk.secret, claims: { sub: 'pasted' } }) });
  assert.equal(d.peerId, 'pasted');
  assert.equal((await restClient(srv, { id: sk.id, secret: sk.secret }).get('/v1/usage')).json.appId, 'pasted');
  await c.close();
  await d.close();
  // And on reload: add the secret-only block.
  const [sk2] = secretOnly;
  reload(srv, `${head}\n${both}\n${run('--type', 'secret').replace(/sk_id_[A-Za-z0-9]+/, sk2.id).replace(/sk_secret_[A-Za-z0-9]+/, sk2.secret)}`);
  const e = await openWhenAdmitted(srv, { token: mintToken({ kid: sk2.id, secret: sk2.secret, claims: { sub: 'reloaded' } }) });
  assert.equal(e.peerId, 'reloaded');
  await e.close();
});
