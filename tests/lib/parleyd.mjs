// Starts a real parleyd for a test: writes its configuration to a temporary directory, binds a
// free port (listen port 0), waits for the "listening on HOST:PORT" line and stops it afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export const binary = process.env.PARLEYD || new URL('../../build/dev/server/parleyd', import.meta.url).pathname;

// The configuration most tests use: one app with a publishable key allowed everything and a
// secret key. Pass `apps`/`server` TOML text to replace parts of it.
export const defaultKeys = {
  pk: 'pk_live_test0000000000000000000000000000',
  skId: 'sk_id_test000000000000000000000000000000',
  skSecret: 'sk_secret_test0000000000000000000000000000',
};

export function defaultConfig({ server = '', apps } = {}) {
  return `
[server]
listen = "127.0.0.1:0"
threads = ${process.env.PARLEY_TEST_THREADS || 2}
drain_window = 1
${server}

${apps ?? `
[[apps]]
id = "test"
[[apps.keys]]
type = "publishable"
id = "${defaultKeys.pk}"
channels = ["**"]
actions = ["subscribe", "publish", "presence", "send"]
[[apps.keys]]
type = "secret"
id = "${defaultKeys.skId}"
secret = "${defaultKeys.skSecret}"
channels = ["**"]
`}
`;
}

/**
 * Starts parleyd. Options:
 *  - config: TOML text (default: defaultConfig()); null for the embedded default
 *  - args: extra command-line arguments
 *  - env: extra environment variables
 * Resolves to { port, host, url (http), ws (ws origin), proc, stderr(), stop(), kill(sig), exited }.
 */
export async function startParleyd({ config = defaultConfig(), args = [], env = {}, timeoutMs = 15000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'parleyd-test-'));
  const argv = [...args];
  if (config !== null) {
    const file = join(dir, 'parley.toml');
    writeFileSync(file, config);
    argv.unshift('--config', file);
  } else if (!args.includes('--listen')) {
    argv.push('--listen', '127.0.0.1:0');
  }
  const proc = spawn(binary, argv, {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parleyd did not start in ${timeoutMs} ms\n${err}`)), timeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (\S+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1], port: Number(m[2]) });
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`parleyd exited (${code ?? signal}) before listening\n${err}`));
    });
  });
  const { host, port } = listening;
  const server = {
    host,
    port,
    url: `http://${host}:${port}`,
    ws: `ws://${host}:${port}`,
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    // Graceful stop; falls back to SIGKILL after `graceMs`.
    async stop(graceMs = 10000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  return server;
}
