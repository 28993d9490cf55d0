// Startup: the embedded development default, --threads, and configurations parleyd must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startParleyd, defaultConfig, defaultKeys, binary } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';

test('without --config parleyd runs the embedded default, prints a pk_live_ key and accepts it', async (t) => {
  const srv = await startParleyd({ config: null });
  t.after(() => srv.stop());
  const m = /\b(pk_live_[A-Za-z0-9]+)/.exec(srv.stdout());
  assert.ok(m, `no pk_live_ key printed:\n${srv.stdout()}`);
  const key = m[1];
  assert.ok(key.length - 'pk_live_'.length >= 32, `random part of ${key} has at least 32 characters`);
  const a = await RawClient.open(srv.ws, { key });
  const b = await RawClient.open(srv.ws, { key });
  assert.equal(a.welcome.expiresAt, null);
  assert.equal(a.welcome.maxMessageSize, 65536);
  assert.equal((await a.request({ type: 'subscribe', channel: 'dev-room' })).type, 'ack');
  assert.equal((await b.request({ type: 'publish', channel: 'dev-room', data: 'hi' })).type, 'ack');
  assert.deepEqual(await a.next('message'), { type: 'message', channel: 'dev-room', from: b.peerId, data: 'hi' });
  // Every action, send included.
  assert.equal((await b.request({ type: 'send', to: a.peerId, data: 1 })).type, 'ack');
  assert.equal((await a.next('direct')).from, b.peerId);
  // Some other key is refused.
  const other = await RawClient.connect(srv.ws, { key: 'pk_live_notthekey00000000000000000000000000' });
  assert.equal((await other.closedWith()).code, 4001);
  await a.close();
  await b.close();

  // A second start picks a fresh random key.
  const srv2 = await startParleyd({ config: null });
  t.after(() => srv2.stop());
  const m2 = /\b(pk_live_[A-Za-z0-9]+)/.exec(srv2.stdout());
  assert.ok(m2);
  assert.notEqual(m2[1], key);
});

function taskCount(pid) {
  return readdirSync(`/proc/${pid}/task`).length;
}

async function endToEnd(srv, n) {
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(await RawClient.open(srv.ws, { key: defaultKeys.pk }));
  for (const c of clients) assert.equal((await c.request({ type: 'subscribe', channel: 'threads' })).type, 'ack');
  for (const [i, c] of clients.entries()) assert.equal((await c.request({ type: 'publish', channel: 'threads', data: { i } })).type, 'ack');
  for (const [i, c] of clients.entries()) {
    const got = [];
    for (let k = 0; k < n - 1; k++) got.push((await c.next('message')).data.i);
    assert.deepEqual(got.sort((x, y) => x - y), [...Array(n).keys()].filter((x) => x !== i));
  }
  // Directs between every neighbouring pair.
  for (let i = 0; i < n; i++) {
    const from = clients[i];
    const to = clients[(i + 1) % n];
    assert.equal((await from.request({ type: 'send', to: to.peerId, data: i })).type, 'ack');
    const d = await to.next('direct');
    assert.deepEqual(d, { type: 'direct', from: from.peerId, data: i });
  }
  for (const c of clients) await c.close();
}

test('--threads 1 and --threads 4 both work end to end', async (t) => {
  const one = await startParleyd({ args: ['--threads', '1'] });
  t.after(() => one.stop());
  await endToEnd(one, 10);
  const four = await startParleyd({ args: ['--threads', '4'] });
  t.after(() => four.stop());
  await endToEnd(four, 10);
  assert.ok(taskCount(four.proc.pid) >= taskCount(one.proc.pid) + 3,
    `--threads 4 runs more threads (${taskCount(four.proc.pid)}) than --threads 1 (${taskCount(one.proc.pid)})`);
  assert.deepEqual(await one.stop(), { code: 0, signal: null });
  assert.deepEqual(await four.stop(), { code: 0, signal: null });
});

// Runs parleyd on a configuration it must refuse; resolves to { code, signal, stdout, stderr }.
function runRefused(configText, timeoutMs = 10000) {
  const dir = mkdtempSync(join(tmpdir(), 'parleyd-bad-'));
  const file = join(dir, 'parley.toml');
  writeFileSync(file, configText);
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`parleyd kept running on an invalid configuration:\n${configText}\nstdout: ${stdout}`));
    }, timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const appWith = (extra = '', keyExtra = '', channels = '["**"]') => `
[[apps]]
id = "test"
${extra}
[[apps.keys]]
type = "publishable"
id = "${defaultKeys.pk}"
channels = ${channels}
${keyExtra}
`;

test('invalid configurations make parleyd exit non-zero naming the option', async () => {
  const cases = [
    { name: 'unknown [server] option', config: defaultConfig({ server: 'bogus_option = 1' }), mention: ['bogus_option'] },
    { name: 'unknown app option', config: defaultConfig({ apps: appWith('frobnicate = true') }), mention: ['frobnicate'] },
    { name: 'unknown key option', config: defaultConfig({ apps: appWith('', 'colour = "blue"') }), mention: ['colour'] },
    { name: 'unknown top-level table', config: `${defaultConfig()}\n[cluster]\nnodes = 3\n`, mention: ['cluster'] },
    { name: 'pattern with three stars', config: defaultConfig({ apps: appWith('', '', '["a***"]') }), mention: ['channels', 'a***'] },
    { name: 'pattern with a bad escape', config: defaultConfig({ apps: appWith('', '', '["a\\\\b"]') }), mention: ['channels'] },
    { name: 'empty pattern', config: defaultConfig({ apps: appWith('', '', '[""]') }), mention: ['channels'] },
    {
      name: 'duplicate key id across apps',
      config: defaultConfig({ apps: `${appWith()}\n[[apps]]\nid = "other"\n[[apps.keys]]\ntype = "publishable"\nid = "${defaultKeys.pk}"\nchannels = ["**"]\n` }),
      mention: [defaultKeys.pk],
    },
    { name: 'unknown action', config: defaultConfig({ apps: appWith('', 'actions = ["subscribe", "fly"]') }), mention: ['actions', 'fly'] },
    { name: 'wrong type for an option', config: defaultConfig({ server: 'ping_interval = "often"' }), mention: ['ping_interval'] },
    { name: 'TOML syntax error', config: '[server\nlisten = "127.0.0.1:0"\n', mention: ['parley.toml'] },
  ];
  for (const c of cases) {
    const r = await runRefused(c.config);
    assert.equal(r.signal, null, `${c.name}: exited by signal ${r.signal}\n${r.stderr}`);
    assert.notEqual(r.code, 0, `${c.name}: exit code`);
    assert.doesNotMatch(r.stdout, /listening on/, `${c.name}: must not start listening`);
    for (const word of c.mention) {
      assert.ok(r.stderr.includes(word), `${c.name}: the message should name ${JSON.stringify(word)}; stderr was:\n${r.stderr}`);
    }
  }
});
