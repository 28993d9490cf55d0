// Starts a real coturn (turnserver) for TURN credential tests, and runs turnutils_uclient against
// it. coturn runs with the TURN REST scheme (use-auth-secret + static-auth-secret), on a free
// port of 127.0.0.1, with its pid file, database and relay ports kept out of the way of others.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './control.mjs';

export const turnserverBinary = process.env.TURNSERVER || 'turnserver';
export const uclientBinary = process.env.TURNUTILS_UCLIENT || 'turnutils_uclient';

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * startCoturn({ secret, realm }) → { port, host, proc, log(), stop() }.
 * Waits until coturn has bound its listener (its log says so) and answers on TCP.
 */
export async function startCoturn({ secret, realm = 'parley.test', timeoutMs = 15000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'coturn-test-'));
  const port = await freePort();
  // A relay range of its own: a random 200-port window between 20000 and 60000.
  const minPort = 20000 + Math.floor(Math.random() * 200) * 200;
  const maxPort = minPort + 199;
  const args = [
    '-n', // no configuration file
    '--listening-ip=127.0.0.1', `--listening-port=${port}`,
    '--relay-ip=127.0.0.1', `--min-port=${minPort}`, `--max-port=${maxPort}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, `--realm=${realm}`,
    '--no-cli', '--no-tls', '--no-dtls', '--allow-loopback-peers',
    '--log-file=stdout', '--simple-log', '--verbose',
    `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb')}`,
  ];
  const proc = spawn(turnserverBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    running.delete(proc);
    rmSync(dir, { recursive: true, force: true });
    resolve({ code, signal });
  }));
  let gone = false;
  exited.then(() => { gone = true; });
  const deadline = Date.now() + timeoutMs;
  // Ready once coturn has created its servers (log line) and its TCP listener accepts.
  for (;;) {
    if (gone) throw new Error(`turnserver exited before listening:\n${out}`);
    if (/Total (General|UDP) servers/i.test(out)) {
      const ok = await new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`turnserver did not listen in ${timeoutMs} ms:\n${out}`);
    }
    await sleep(100);
  }
  return {
    host: '127.0.0.1',
    port,
    proc,
    exited,
    log: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

/**
 * Runs turnutils_uclient against coturn with the given username/credential and resolves to
 * { code, stdout, stderr, output }. tcp: use TCP to the TURN server (-t). The client uses
 * client-to-client mode (-y) so it needs no separate peer, sends a few small messages (-n),
 * and allocates a relay with the credentials; exit code 0 means every step succeeded.
 */
export function uclient({ port, username, credential, tcp = false, timeoutMs = 20000 }) {
  const args = ['-y', '-n', '3', '-l', '64', '-e', '127.0.0.1', '-p', String(port), '-u', username, '-w', credential];
  if (tcp) args.unshift('-t');
  args.push('127.0.0.1');
  return new Promise((resolve) => {
    execFile(uclientBinary, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : (err.killed ? 'timeout' : err.code)) : 0;
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
}
