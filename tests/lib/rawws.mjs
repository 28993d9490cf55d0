// A raw WebSocket client over node:net for transport tests. It performs the RFC 6455 handshake
// itself and writes hand-built frames (any FIN/RSV/opcode/mask/length), so tests can send what a
// well-behaved WebSocket library never would. Server frames are parsed as they arrive, including
// close frames (code + reason), and the way the TCP connection ended is recorded.
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

function toBuf(p) {
  if (p === undefined || p === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(p)) return p;
  if (p instanceof Uint8Array) return Buffer.from(p);
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  return Buffer.from(JSON.stringify(p), 'utf8');
}

/**
 * Builds one client frame.
 *  fin: FIN bit (default true); rsv: 3-bit RSV value (4 = RSV1, 2 = RSV2, 1 = RSV3);
 *  opcode: default 1 (text); mask: default true; maskKey: 4 bytes (random by default);
 *  payload: Buffer | string | object (JSON); length: declared payload length (default: the
 *  payload's real length; set it to announce more bytes than are appended); lenBits: 7, 16 or 64
 *  to force a (possibly non-minimal) length encoding.
 */
export function buildFrame({ fin = true, rsv = 0, opcode = OP.text, mask = true, maskKey, payload, length, lenBits } = {}) {
  const data = toBuf(payload);
  const len = length ?? data.length;
  // lenBits forces the length encoding: 7, 16 or 64 (default: the minimal one).
  const bits = lenBits ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  let head;
  if (bits === 7) {
    head = Buffer.alloc(2);
    head[1] = len;
  } else if (bits === 16) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = maskKey ? toBuf(maskKey) : randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

export function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const r = toBuf(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

export const textFrame = (payload, opts = {}) => buildFrame({ ...opts, opcode: OP.text, payload });
export const closeFrame = (code, reason, opts = {}) => buildFrame({ ...opts, opcode: OP.close, payload: closePayload(code, reason) });
export const pingFrame = (payload, opts = {}) => buildFrame({ ...opts, opcode: OP.ping, payload });

/**
 * Parses as many complete frames as `buf` holds. Returns { frames, rest }. Each frame:
 * { fin, rsv, opcode, masked, payload (Buffer) } plus, for close frames, { code, reason }.
 */
export function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      p = off + 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      p = off + 10;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length < p + 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length < p + len) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
    if (f.opcode === OP.close) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
    }
    frames.push(f);
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export function handshakeRequest({ host, port, path = '/v1', query, headers = {}, wsKey, omit = [] }) {
  const target = query ? `${path}?${query}` : path;
  const h = {
    Host: `${host}:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': wsKey,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `GET ${target} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || v === null || omit.includes(k)) continue;
    text += `${k}: ${v}\r\n`;
  }
  return `${text}\r\n`;
}

function parseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const headers = {};
  const rawHeaders = [];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    rawHeaders.push([k, v]);
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { status: Number(m[1]), statusText: m[2], headers, rawHeaders };
}

export class RawWs {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = [];       // server frames not yet taken by nextFrame()
    this.all = [];          // every server frame, in order
    this.closeFrame = null; // first close frame from the server (every frame has .at, a timestamp)
    this.ended = null;      // { how: 'end' | 'error' | 'close', code?, at }
    this.autoPong = false;
    this.autoClose = false;
    this.fragments = null;
    this.waiters = [];
    this.headDone = false;
    this.response = null;
  }

  /**
   * Opens a TCP connection and performs the handshake. Options:
   *  path ('/v1'), query (default key=<pk> when `key` given), headers, omit (header names to leave
   *  out), early (Buffer or array of Buffers written in the same write as the handshake),
   *  after (written right after the handshake, before the response is read), autoPong (answer
   *  protocol pings), autoClose (answer the server's close frame with the same code).
   * Resolves once the response head is read: .response = {status, headers, body}.
   */
  static async connect(srv, { path = '/v1', key, query, headers = {}, omit = [], early, after, autoPong = false, autoClose = false, timeoutMs = 5000 } = {}) {
    const socket = net.connect({ host: srv.host, port: srv.port });
    socket.setNoDelay(true);
    const c = new RawWs(socket);
    c.autoPong = autoPong;
    c.autoClose = autoClose;
    c.wsKey = randomBytes(16).toString('base64');
    const q = query ?? (key !== undefined ? `key=${encodeURIComponent(key)}` : undefined);
    const req = Buffer.from(handshakeRequest({ host: srv.host, port: srv.port, path, query: q, headers, wsKey: c.wsKey, omit }));
    const earlyBufs = early ? (Array.isArray(early) ? early : [early]) : [];
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(Buffer.concat([req, ...earlyBufs]));
    if (after) for (const b of (Array.isArray(after) ? after : [after])) socket.write(b);
    c.#listen();
    await c.#waitHead(timeoutMs);
    return c;
  }

  // connect() and then wait for the welcome text frame; fails unless the upgrade got 101.
  static async open(srv, opts) {
    const c = await RawWs.connect(srv, opts);
    if (c.response.status !== 101) throw new Error(`upgrade refused: ${c.response.status} ${c.response.body}`);
    c.welcome = await c.nextJson('welcome');
    c.peerId = c.welcome.peerId;
    return c;
  }

  #listen() {
    this.socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.#drain();
      this.#wake();
    });
    this.socket.on('end', () => {
      if (!this.headDone) this.#drain(true);
      if (!this.ended) this.ended = { how: 'end', at: Date.now() };
      this.#wake();
    });
    this.socket.on('error', (e) => {
      if (!this.ended) this.ended = { how: 'error', code: e.code, at: Date.now() };
      this.#wake();
    });
    this.socket.on('close', () => {
      if (!this.headDone) this.#drain(true);
      if (!this.ended) this.ended = { how: 'close', at: Date.now() };
      this.#wake();
    });
  }

  #drain(atEnd = false) {
    if (!this.headDone) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      const head = parseHead(this.buf.subarray(0, i).toString('latin1'));
      const rest = this.buf.subarray(i + 4);
      if (head.status !== 101) {
        const len = Number(head.headers['content-length'] ?? -1);
        if (len >= 0 && rest.length < len && !atEnd) return;
        if (len < 0 && !atEnd) return;
        const body = rest.subarray(0, len >= 0 ? len : rest.length);
        head.body = body.toString('utf8');
        try { head.json = JSON.parse(head.body); } catch { head.json = undefined; }
        this.buf = rest.subarray(body.length);
      } else {
        head.body = '';
        this.buf = rest;
      }
      this.headDone = true;
      this.response = head;
      if (head.status !== 101) return;
    }
    if (this.response.status !== 101) return;
    const { frames, rest } = parseFrames(this.buf);
    this.buf = Buffer.from(rest);
    for (const f of frames) this.#onFrame(f);
  }

  #onFrame(f) {
    f.at = Date.now();
    if (f.opcode === OP.text || f.opcode === OP.cont) {
      if (f.opcode === OP.text && !f.fin) {
        this.fragments = [f.payload];
        return;
      }
      if (f.opcode === OP.cont && this.fragments) {
        this.fragments.push(f.payload);
        if (!f.fin) return;
        f = { ...f, opcode: OP.text, payload: Buffer.concat(this.fragments), reassembled: true };
        this.fragments = null;
      }
      f.text = f.payload.toString('utf8');
      try { f.json = JSON.parse(f.text); } catch { f.json = undefined; }
    }
    if (f.opcode === OP.close && !this.closeFrame) {
      this.closeFrame = f;
      if (this.autoClose && !this.socket.destroyed) this.socket.write(buildFrame({ opcode: OP.close, payload: closePayload(f.code ?? undefined) }));
    }
    if (f.opcode === OP.ping && this.autoPong && !this.socket.destroyed) {
      this.socket.write(buildFrame({ opcode: OP.pong, payload: f.payload }));
    }
    this.all.push(f);
    this.frames.push(f);
  }

  #wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  async #until(check, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = check();
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.describe()}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  describe() {
    const fr = this.all.slice(-8).map((f) => (f.opcode === OP.close ? `close(${f.code} ${JSON.stringify(f.reason)})` : f.text !== undefined ? f.text.slice(0, 200) : `op${f.opcode}[${f.payload.length}]`));
    return `status=${this.response?.status} frames=[${fr.join(', ')}] ended=${JSON.stringify(this.ended)}`;
  }

  #waitHead(timeoutMs) {
    return this.#until(() => {
      if (this.headDone) return true;
      if (this.ended) throw new Error(`connection ended before the response head: ${JSON.stringify(this.ended)}`);
      return undefined;
    }, timeoutMs, 'the response head');
  }

  // Next server frame matching `pred` (default: any); non-matching frames stay queued.
  nextFrame(pred = () => true, timeoutMs = 5000) {
    return this.#until(() => {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.ended) throw new Error(`connection ended while waiting for a frame; ${this.describe()}`);
      return undefined;
    }, timeoutMs, 'a frame');
  }

  // Next JSON text frame whose type is `type` (or matching a predicate on the parsed JSON).
  async nextJson(match, timeoutMs = 5000) {
    const pred = typeof match === 'string' ? (j) => j?.type === match : match ?? (() => true);
    const f = await this.#until(() => {
      const i = this.frames.findIndex((fr) => fr.opcode === OP.text && pred(fr.json));
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.closeFrame) throw new Error(`closed (${this.closeFrame.code} ${this.closeFrame.reason}) while waiting for ${JSON.stringify(String(match))}; ${this.describe()}`);
      if (this.ended) throw new Error(`connection ended while waiting for ${String(match)}; ${this.describe()}`);
      return undefined;
    }, timeoutMs, `text frame ${typeof match === 'string' ? match : ''}`);
    return f.json;
  }

  // The server's close frame: { code, reason }.
  async closed(timeoutMs = 5000) {
    const f = await this.#until(() => {
      if (this.closeFrame) return this.closeFrame;
      if (this.ended) throw new Error(`connection ended without a close frame; ${this.describe()}`);
      return undefined;
    }, timeoutMs, 'a close frame');
    return { code: f.code, reason: f.reason };
  }

  // Resolves when the TCP connection has ended (FIN, reset or close): { how, code, at }.
  end(timeoutMs = 5000) {
    return this.#until(() => this.ended ?? undefined, timeoutMs, 'the end of the TCP connection');
  }

  write(buf) {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  sendFrame(opts) { this.write(buildFrame(opts)); }
  sendText(payload, opts = {}) { this.write(textFrame(typeof payload === 'string' ? payload : JSON.stringify(payload), opts)); }
  ping(payload = '') { this.write(pingFrame(payload)); }
  sendClose(code, reason = '') { this.write(closeFrame(code, reason)); }

  // Sends a request with a requestId and waits for its ack or error.
  async request(obj, timeoutMs = 5000) {
    const requestId = obj.requestId ?? `raw${++RawWs.seq}`;
    this.sendText({ ...obj, requestId });
    return this.nextJson((j) => (j?.type === 'ack' || j?.type === 'error') && j.requestId === requestId, timeoutMs);
  }

  pause() { this.socket.pause(); }
  resume() { this.socket.resume(); }

  destroy() {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
RawWs.seq = 0;
