// A throwaway self-signed certificate for localhost / 127.0.0.1, made with the openssl CLI in a
// temporary directory. The certificate is its own CA: pass `ca` to https/ws/tls clients.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** → { dir, certPath, keyPath, ca (PEM text), cleanup() } */
export function selfSignedCert({ cn = 'localhost' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-keyout', keyPath, '-out', certPath,
    '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-addext', 'basicConstraints=critical,CA:TRUE',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    dir,
    certPath,
    keyPath,
    ca: readFileSync(certPath, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
