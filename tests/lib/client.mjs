// A raw WebSocket client for protocol tests: sends JSON frames, queues received ones, and waits
// for the frame (or close) a test expects, with a timeout that fails the test instead of hanging.
import WebSocket from 'ws';

export class RawClient {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];      // parsed JSON frames not yet taken by next()
    this.all = [];         // every parsed frame, in order
    this.waiters = [];
    this.closed = null;    // { code, reason } once closed
    this.closeWaiters = [];
    this.rawTexts = new WeakMap(); // parsed frame object -> the exact text received
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      let frame;
      try { frame = JSON.parse(text); } catch { frame = { type: '__unparseable__', text }; }
      if (frame !== null && typeof frame === 'object') this.rawTexts.set(frame, text);
      this.all.push(frame);
      this.frames.push(frame);
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
      this.closeWaiters = [];
      this.#wake();
    });
    ws.on('error', () => { /* surfaced through close */ });
  }

  static async connect(origin, { key, token, query, headers = {}, path = '/v1' } = {}) {
    let q = query;
    if (q === undefined) {
      q = key !== undefined ? `key=${encodeURIComponent(key)}` : token !== undefined ? `token=${encodeURIComponent(token)}` : '';
    }
    const url = `${origin}${path}${q ? `?${q}` : ''}`;
    const ws = new WebSocket(url, { headers });
    const client = new RawClient(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
    return client;
  }

  // Connects and waits for the welcome; returns the client with .welcome and .peerId set.
  static async open(origin, opts) {
    const c = await RawClient.connect(origin, opts);
    c.welcome = await c.next('welcome');
    c.peerId = c.welcome.peerId;
    return c;
  }

  #wake() {
    const pending = this.waiters;
    this.waiters = [];
    for (const w of pending) w();
  }

  // The exact text of a received frame (as returned by next()/request() or found in .all).
  raw(frame) {
    const text = this.rawTexts.get(frame);
    if (text === undefined) throw new Error(`no raw text recorded for ${JSON.stringify(frame)}`);
    return text;
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // Waits for the next frame matching `match` (a type string, or a predicate). Frames before it
  // that do not match stay queued. Rejects after `timeoutMs`.
  async next(match, timeoutMs = 5000) {
    const pred = typeof match === 'string' ? (f) => f.type === match : match ?? (() => true);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for ${describe(match)}; got ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${describe(match)}; queued: ${JSON.stringify(this.frames)}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  // Sends a request with a fresh requestId and returns its ack or error frame.
  async request(obj, timeoutMs = 5000) {
    const requestId = obj.requestId ?? `r${++RawClient.seq}`;
    this.send({ ...obj, requestId });
    return this.next((f) => (f.type === 'ack' || f.type === 'error') && f.requestId === requestId, timeoutMs);
  }

  // Asserts that no frame matching `match` arrives within `ms`.
  async none(match, ms = 300) {
    try {
      const f = await this.next(match, ms);
      throw Object.assign(new Error(`unexpected frame ${JSON.stringify(f)}`), { unexpected: true });
    } catch (e) {
      if (e.unexpected) throw e;
    }
  }

  async closedWith(timeoutMs = 5000) {
    if (this.closed) return this.closed;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((c) => { clearTimeout(t); resolve(c); });
    });
  }

  close(code = 1000) {
    if (!this.closed) this.ws.close(code);
    return this.closedWith();
  }
}
RawClient.seq = 0;

function describe(match) {
  return typeof match === 'string' ? `"${match}"` : 'a matching frame';
}
