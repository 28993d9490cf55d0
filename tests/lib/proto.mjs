// Helpers for the protocol (request/response) tests: TOML for apps and keys, admission-failure
// checks, and small assertions shared by the frames-*, presence-*, delivery-* and auth-* files.
import assert from 'node:assert/strict';
import { defaultConfig, startParleyd } from './parleyd.mjs';
import { RawClient } from './client.mjs';

// Server settings that keep per-IP connect and per-connection rate limits out of the way of
// protocol tests (those limits are tested elsewhere).
export const relaxedServer = `
connect_rate_per_ip = 100000
connect_burst_per_ip = 100000
`;

const tomlStr = (s) => JSON.stringify(s);
const tomlArr = (a) => `[${a.map(tomlStr).join(', ')}]`;

/**
 * TOML text for apps. apps: [{ id, settings?: {name: value}, keys: [{ type, id, secret?,
 * channels, actions?, allowed_origins? }] }]. Apps get generous rate limits unless settings
 * override them.
 */
export function appsToml(apps) {
  let out = '';
  for (const app of apps) {
    out += `\n[[apps]]\nid = ${tomlStr(app.id)}\n`;
    const settings = { rate_limit_per_second: 100000, rate_limit_burst: 100000, ...(app.settings ?? {}) };
    for (const [k, v] of Object.entries(settings)) out += `${k} = ${typeof v === 'string' ? tomlStr(v) : v}\n`;
    for (const key of app.keys) {
      out += `[[apps.keys]]\ntype = ${tomlStr(key.type)}\nid = ${tomlStr(key.id)}\n`;
      if (key.secret !== undefined) out += `secret = ${tomlStr(key.secret)}\n`;
      out += `channels = ${tomlArr(key.channels ?? ['**'])}\n`;
      if (key.actions !== undefined) out += `actions = ${tomlArr(key.actions)}\n`;
      if (key.allowed_origins !== undefined) out += `allowed_origins = ${tomlArr(key.allowed_origins)}\n`;
    }
  }
  return out;
}

export function configFor(apps, server = '') {
  return defaultConfig({ server: relaxedServer + server, apps: appsToml(apps) });
}

// Starts parleyd with the given apps and registers its stop on `t`.
export async function start(t, apps, server = '') {
  const srv = await startParleyd({ config: configFor(apps, server) });
  t.after(() => srv.stop());
  return srv;
}

// Tracks clients so a test can close all of them at the end.
export function pool(t) {
  const clients = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });
  return {
    async open(origin, opts) {
      const c = await RawClient.open(origin, opts);
      clients.push(c);
      return c;
    },
    async connect(origin, opts) {
      const c = await RawClient.connect(origin, opts);
      clients.push(c);
      return c;
    },
    clients,
  };
}

export const ALL = ['subscribe', 'publish', 'presence', 'send'];
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Connects and expects admission to fail with `code`/`reason` and no welcome (nor any frame).
export async function expectRefused(origin, opts, code, reason) {
  const c = await RawClient.connect(origin, opts);
  const closed = await c.closedWith(8000);
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code, reason },
    `expected close ${code} "${reason}", got ${closed.code} "${closed.reason}" for ${JSON.stringify(opts)}`);
  assert.deepEqual(c.all, [], `no frame may precede an admission close; got ${JSON.stringify(c.all)}`);
  return closed;
}

// Asserts `f` is exactly an error frame with `code` and, iff requestId !== undefined, that
// requestId. `message` must be a non-empty string.
export function assertError(f, code, requestId) {
  assert.equal(f.type, 'error', `expected error ${code}, got ${JSON.stringify(f)}`);
  assert.equal(f.code, code, `expected code ${code}, got ${JSON.stringify(f)}`);
  assert.equal(typeof f.message, 'string');
  assert.ok(f.message.length > 0);
  const keys = Object.keys(f).sort();
  if (requestId === undefined) {
    assert.deepEqual(keys, ['code', 'message', 'type'], `error must not carry requestId: ${JSON.stringify(f)}`);
  } else {
    assert.deepEqual(keys, ['code', 'message', 'requestId', 'type'], `error must carry requestId: ${JSON.stringify(f)}`);
    assert.equal(f.requestId, requestId);
  }
}

let rid = 0;
export const newId = (p = 'q') => `${p}${++rid}`;

// Sends `obj` with a fresh requestId and asserts the response is the error `code`.
export async function expectError(c, obj, code) {
  const requestId = newId('e');
  const f = await c.request({ ...obj, requestId });
  assertError(f, code, requestId);
  return f;
}

export async function expectAck(c, obj) {
  const requestId = newId('a');
  const f = await c.request({ ...obj, requestId });
  assert.deepEqual(f, { type: 'ack', requestId }, `expected ack for ${JSON.stringify(obj).slice(0, 200)}, got ${JSON.stringify(f).slice(0, 300)}`);
  return f;
}

// Sends raw text and returns the next frame (any type) the connection receives.
export async function rawNext(c, text, timeoutMs = 5000) {
  c.send(text);
  return c.next(() => true, timeoutMs);
}

// Sends a ping and waits for the pong, asserting that nothing else arrives before it.
export async function pingBarrier(c) {
  c.send({ type: 'ping' });
  const f = await c.next(() => true);
  assert.deepEqual(f, { type: 'pong' }, `expected only a pong, got ${JSON.stringify(f)}`);
}

// Subscribes (exact) and returns the snapshot that must follow the ack immediately.
export async function subscribe(c, channel, extra = {}) {
  const requestId = newId('s');
  c.send({ type: 'subscribe', channel, requestId, ...extra });
  const ack = await c.next(() => true);
  assert.deepEqual(ack, { type: 'ack', requestId }, `subscribe ${channel}: expected the ack first, got ${JSON.stringify(ack)}`);
  const snap = await c.next(() => true);
  assert.equal(snap.type, 'presence', `subscribe ${channel}: expected the snapshot right after the ack, got ${JSON.stringify(snap)}`);
  assert.equal(snap.channel, channel);
  assert.deepEqual(snap.left, []);
  return snap;
}

// Polls `fn` (which may be async) until it returns true or `timeoutMs` passes; returns the last
// result. For waiting on a state that frames in flight will reach, never as a speed assertion.
export async function eventually(fn, timeoutMs = 5000, stepMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fn();
    if (ok || Date.now() >= deadline) return ok;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// Discards every queued (not yet taken) frame of `c`.
export function drain(c) {
  return c.frames.splice(0);
}

export const byteLen = (s) => Buffer.byteLength(s, 'utf8');
