// Helpers for the control-side tests (REST, quotas, TURN, TLS, reload, metrics): a TOML builder
// covering every app option ([apps.turn], auto_inject_turn, suspended, …), a small HTTP(S) client
// for the REST control plane, event waiting for the official SDK, free ports and config rewriting.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nowSec = () => Math.floor(Date.now() / 1000);

const tomlValue = (v) => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  return String(v);
};
const tomlTable = (obj) => Object.entries(obj)
  .filter(([, v]) => v !== undefined)
  .map(([k, v]) => `${k} = ${tomlValue(v)}`)
  .join('\n');

/**
 * TOML text of a whole configuration.
 *  server: [server] options, merged over listen 127.0.0.1:0, threads, drain_window = 1 and
 *          relaxed per-IP connect limits (override them to test those limits)
 *  apps:   [{ id, settings: {option: value}, turn: {secret, urls, ttl}, keys: [{type, id, secret,
 *          channels, actions, allowed_origins, auto_inject_turn}] }]
 * Apps get relaxed per-connection rate limits unless their settings override them.
 */
export function controlConfig({ server = {}, apps }) {
  const s = {
    listen: '127.0.0.1:0',
    threads: Number(process.env.PARLEY_TEST_THREADS || 2),
    drain_window: 1,
    connect_rate_per_ip: 100000,
    connect_burst_per_ip: 100000,
    ...server,
  };
  let out = `[server]\n${tomlTable(s)}\n`;
  for (const app of apps) {
    const settings = { rate_limit_per_second: 100000, rate_limit_burst: 100000, ...(app.settings ?? {}) };
    out += `\n[[apps]]\nid = ${tomlValue(app.id)}\n${tomlTable(settings)}\n`;
    if (app.turn) out += `[apps.turn]\n${tomlTable(app.turn)}\n`;
    for (const key of app.keys ?? []) {
      const k = { channels: ['**'], ...key };
      out += `[[apps.keys]]\n${tomlTable(k)}\n`;
    }
  }
  return out;
}

/** The configuration file a server started by startParleyd reads (for SIGHUP reload tests). */
export function configPath(srv) {
  const args = srv.proc.spawnargs;
  const i = args.indexOf('--config');
  if (i < 0) throw new Error('server was not started with --config');
  return args[i + 1];
}

/** Rewrites the server's configuration file and sends SIGHUP. */
export function reload(srv, text) {
  writeFileSync(configPath(srv), text);
  srv.proc.kill('SIGHUP');
}

export const bearer = (id, secret) => `Bearer ${id}:${secret}`;

/**
 * One HTTP(S) request. target: a server from startParleyd (http) or an origin string
 * ("https://localhost:1234"). opts: { headers, body (object → JSON text, string sent as is),
 * auth (Authorization value), chunked (send the body with Transfer-Encoding: chunked), ca }.
 * Resolves to { status, headers, body, json }.
 */
export function request(target, method, path, { headers = {}, body, auth, chunked = false, ca, timeoutMs = 10000 } = {}) {
  const origin = typeof target === 'string' ? target : target.url;
  const u = new URL(path, origin);
  const mod = u.protocol === 'https:' ? https : http;
  const h = { Connection: 'close', ...headers };
  if (auth !== undefined) h.Authorization = auth;
  let payload;
  if (body !== undefined) {
    payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    if (chunked) h['Transfer-Encoding'] = 'chunked';
    else h['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = mod.request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers: h, agent: false, ca,
      servername: u.hostname === '127.0.0.1' ? undefined : u.hostname,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no response in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) {
      if (chunked) {
        // Several chunks, so the server has to reassemble them.
        const step = Math.max(1, Math.ceil(payload.length / 4));
        for (let i = 0; i < payload.length; i += step) req.write(payload.subarray(i, i + step));
      } else {
        req.write(payload);
      }
    }
    req.end();
  });
}

/** A REST client bound to one server and one secret key. */
export function restClient(target, { id, secret, ca } = {}) {
  const auth = id === undefined ? undefined : bearer(id, secret);
  const call = (method, path, opts = {}) => request(target, method, path, { auth, ca, ...opts });
  return {
    call,
    get: (path, opts) => call('GET', path, opts),
    post: (path, body, opts = {}) => call('POST', path, { body, ...opts }),
    del: (path, opts) => call('DELETE', path, opts),
  };
}

/** Resolves with the first event `name` of an SDK emitter whose payload satisfies `pred`. */
export function waitEvent(emitter, name, pred = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      emitter.off(name, h);
      reject(new Error(`timed out waiting for ${name}`));
    }, timeoutMs);
    const h = (e) => {
      if (pred(e)) {
        clearTimeout(t);
        emitter.off(name, h);
        resolve(e);
      }
    };
    emitter.on(name, h);
  });
}

/** Records every event `names` of an SDK emitter with its time: [{ name, at, payload }]. */
export function recordEvents(emitter, names) {
  const log = [];
  for (const name of names) emitter.on(name, (payload) => log.push({ name, at: Date.now(), payload }));
  return log;
}

/** A port free for both TCP and UDP on 127.0.0.1. */
export async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free TCP+UDP port found');
}

/** TURN REST credential (§16): base64(HMAC-SHA1(UTF-8 secret, username)). */
export const turnCredential = (secret, username) => createHmac('sha1', Buffer.from(secret, 'utf8')).update(username, 'utf8').digest('base64');

/** Polls `fn` until it returns a truthy value; returns it or throws after `timeoutMs`. */
export async function until(fn, timeoutMs = 10000, stepMs = 50, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}
