// Mints HS256 connection tokens (§3.3) for tests: header {"alg":"HS256","kid":…,"typ":"JWT"},
// HMAC-SHA256 keyed with the UTF-8 bytes of the whole sk_secret_… string, base64url without padding.
import { createHmac } from 'node:crypto';

export function b64url(input) {
  return Buffer.from(input).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * mintToken({ kid, secret, claims, header, payloadText })
 *  - claims: payload object; `exp` defaults to now + 3600 when not given (pass exp: undefined
 *    explicitly via payloadText to omit it)
 *  - header: replaces the default header object
 *  - payloadText / headerText: exact JSON text to encode instead of the objects
 */
export function mintToken({ kid, secret, claims = {}, header, headerText, payloadText } = {}) {
  const h = headerText ?? JSON.stringify(header ?? { alg: 'HS256', kid, typ: 'JWT' });
  const body = payloadText ?? JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
  const signingInput = `${b64url(h)}.${b64url(body)}`;
  const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput, 'ascii').digest();
  return `${signingInput}.${b64url(sig)}`;
}
