// Raw HTTP/1.1 over node:net, for checking exactly what parleyd answers before the upgrade.
import net from 'node:net';

/**
 * Writes `request` (string or Buffer, sent as is) and reads one response. Resolves to
 * { status, statusText, headers (lower-case names; repeated ones joined with ", "), rawHeaders,
 *   body (string), json (parsed body or undefined) }.
 * The response ends at Content-Length, or when the server closes the connection.
 */
export function rawHttp(srv, request, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: srv.host, port: srv.port });
    let buf = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => finish(new Error(`no complete HTTP response in ${timeoutMs} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`)), timeoutMs);
    function finish(err, res) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err); else resolve(res);
    }
    function tryParse(atEnd) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) {
        if (atEnd) finish(new Error(`connection closed before a response head; got ${JSON.stringify(buf.toString('latin1'))}`));
        return;
      }
      const lines = buf.subarray(0, i).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
      if (!m) return finish(new Error(`bad status line ${JSON.stringify(lines[0])}`));
      const headers = {};
      const rawHeaders = [];
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        const k = line.slice(0, c).trim().toLowerCase();
        const v = line.slice(c + 1).trim();
        rawHeaders.push([k, v]);
        headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
      }
      const status = Number(m[1]);
      const rest = buf.subarray(i + 4);
      let body;
      if (status === 101 || status === 204 || status === 304) body = Buffer.alloc(0);
      else if (headers['content-length'] !== undefined) {
        const len = Number(headers['content-length']);
        if (rest.length < len) {
          if (atEnd) finish(new Error(`body shorter than Content-Length ${len}`));
          return;
        }
        body = rest.subarray(0, len);
      } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const chunks = [];
        let off = 0;
        for (;;) {
          const e = rest.indexOf('\r\n', off);
          if (e < 0) { if (atEnd) finish(new Error('truncated chunked body')); return; }
          const size = parseInt(rest.subarray(off, e).toString('latin1'), 16);
          if (rest.length < e + 2 + size + 2) { if (atEnd) finish(new Error('truncated chunked body')); return; }
          if (size === 0) break;
          chunks.push(rest.subarray(e + 2, e + 2 + size));
          off = e + 2 + size + 2;
        }
        body = Buffer.concat(chunks);
      } else {
        if (!atEnd) return;
        body = rest;
      }
      const text = body.toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      finish(null, { status, statusText: m[2], headers, rawHeaders, body: text, json });
    }
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d) => { buf = Buffer.concat([buf, d]); tryParse(false); });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    socket.on('error', (e) => {
      // A reset after a complete response is fine; otherwise report it.
      tryParse(true);
      finish(e);
    });
  });
}

// Builds a request head. headers: object of name -> value (undefined values are left out).
export function requestText(method, target, srv, headers = {}, body = '') {
  const h = { Host: `${srv.host}:${srv.port}`, ...headers };
  let s = `${method} ${target} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== undefined) s += `${k}: ${v}\r\n`;
  if (body) s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${s}\r\n${body}`;
}

export const httpGet = (srv, path, headers = {}) => rawHttp(srv, requestText('GET', path, srv, { Connection: 'close', ...headers }));
