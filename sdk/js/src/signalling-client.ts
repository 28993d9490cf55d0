// SignallingClient: the WebSocket pub/sub client (SDK.md §2-§3, PROTOCOL.md §3.6, §5-§7, §11-§12).
//
// States: idle → connecting → connected ⇄ reconnecting → closed; closed → connecting again on
// connect(). Only a client that got a welcome since its last connect() reconnects by itself.
import { Emitter } from "./emitter.js";
import { OversizedPayloadError, SignallingConnectError, namedError, scrubError } from "./errors.js";
import { NoopLogger } from "./logger.js";
import {
  iceServersFrom,
  parseServerFrame,
  requestId,
  utf8Length,
  validateChannel,
  validatePeerId,
} from "./protocol.js";
import type {
  Logger,
  PublishOptions,
  ReconnectOptions,
  SendOptions,
  SignallingClientEventMap,
  SignallingClientOptions,
  SignallingClientState,
  SubscribeOptions,
  WebSocketLike,
  WelcomePayload,
} from "./types.js";

type Timer = ReturnType<typeof setTimeout>;
type Settle = { resolve: () => void; reject: (err: Error) => void; timer: Timer };
type Handler<K extends keyof SignallingClientEventMap> = (payload: SignallingClientEventMap[K]) => void;

const WELCOME_TIMEOUT_MS = 10000;
const ACK_TIMEOUT_MS = 15000;
const CLOSE_WAIT_MS = 1000;
const MAX_INBOUND_CHARS = 1048576;
const TOKEN_ERROR_THRESHOLD = 3;
const REPLAY_RETRIES = 3;
const REPLAY_RETRY_MS = 2000;
const SLOW_BACKOFF_FLOOR_MS = 30000;
const DEFAULT_MAX_MESSAGE_SIZE = 65536;
const TERMINAL_CODES = [4001, 4003, 4012, 4020];
const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  initialDelayMs: 500,
  multiplier: 2,
  maxDelayMs: 30000,
  jitterRatio: 0.2,
  maxAttempts: 100,
};

const optionError = (what: string): TypeError => new TypeError("SignallingClient: invalid option " + what);

/** The origin of `url`: wss:, or ws: for a loopback host; no path, query or hash. */
function originOf(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    // reported below
  }
  if (
    !u ||
    !(u.protocol === "wss:" || (u.protocol === "ws:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname))) ||
    (u.pathname !== "/" && u.pathname !== "") ||
    u.search ||
    u.hash
  ) {
    // (The value itself stays out of the message: it might carry a credential.)
    throw optionError("url: expected a wss: origin (ws: only for localhost) without path, query or hash");
  }
  return u.origin;
}

const finiteIn = (v: unknown, min: number, max = Infinity): boolean =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;

function checkReconnect(o: Required<ReconnectOptions>): void {
  const limits: [keyof ReconnectOptions, number, number?][] = [
    ["initialDelayMs", 0],
    ["multiplier", 1],
    ["maxDelayMs", 0],
    ["jitterRatio", 0, 1],
  ];
  for (const [k, min, max] of limits) if (!finiteIn(o[k], min, max)) throw optionError(`reconnect.${k}: ${o[k]}`);
  if (o.maxAttempts !== Infinity && !(Number.isInteger(o.maxAttempts) && o.maxAttempts >= 1)) {
    throw optionError(`reconnect.maxAttempts: ${o.maxAttempts}`);
  }
}

const disconnectedError = (code: number, reason: string): Error =>
  namedError("DisconnectedError", `connection closed before ack: code=${code} reason='${reason}'`);

/** A WebSocket client for Parley's (and Metered's) realtime messaging protocol. */
export class SignallingClient {
  // Configuration.
  readonly #apiKey: string | undefined;
  readonly #tokenProvider: (() => Promise<string>) | undefined;
  readonly #origin: string;
  readonly #log: Logger;
  readonly #tokenTimeoutMs: number;
  readonly #reconnect: Required<ReconnectOptions> | null;
  readonly #idleMs: number; // 0 = watchdog and keepalive off
  readonly #autoResubscribe: boolean;
  readonly #factory: (url: string) => WebSocketLike;
  readonly #events: Emitter<SignallingClientEventMap>;

  // Connection.
  #state: SignallingClientState = "idle";
  #ws: WebSocketLike | null = null;
  /** The socket close() shut; its close event still reports `disconnected`. */
  #closingWs: WebSocketLike | null = null;
  /** Listener removers of every socket whose close has not been handled yet. */
  #sockets = new Map<WebSocketLike, () => void>();
  #epoch = 0;
  #userClosed = false;
  #everConnected = false;
  #welcome: Settle | null = null;
  #tokenAbort: ((err: Error) => void) | null = null;
  #maxMessageSize: number | null = null;

  // Reconnect.
  #attempts = 0;
  #tokenFailures = 0;
  #floorMs = 0;
  #reconnectTimer: Timer | null = null;

  // Liveness.
  #idleTimer: Timer | null = null;
  #pingTimer: Timer | null = null;

  // Requests and subscriptions.
  #pending = new Map<string, Settle>();
  #subs = new Map<string, SubscribeOptions>();
  #replayRetries = new Map<string, number>();
  #replayTimers = new Set<Timer>();
  #serverRejections = new WeakSet<Error>();

  constructor(opts: SignallingClientOptions) {
    const o = (opts ?? {}) as SignallingClientOptions;
    if (!o.apiKey === !o.tokenProvider) throw optionError("credential: pass exactly one of apiKey and tokenProvider");
    this.#apiKey = o.apiKey || undefined;
    this.#tokenProvider = o.tokenProvider || undefined;
    this.#origin = originOf(o.url ?? "wss://rms.metered.ca");
    this.#log = o.logger ?? NoopLogger;

    const idle = o.inactivityTimeoutMs;
    if (idle != null && (typeof idle !== "number" || Number.isNaN(idle))) throw optionError("inactivityTimeoutMs: " + idle);
    this.#idleMs = idle == null ? 60000 : Number.isFinite(idle) && idle > 0 ? idle : 0;

    const tmo = o.tokenProviderTimeoutMs;
    if (tmo !== undefined && !(finiteIn(tmo, 0) && tmo > 0)) throw optionError("tokenProviderTimeoutMs: " + tmo);
    this.#tokenTimeoutMs = tmo ?? 10000;
    this.#autoResubscribe = o.autoResubscribe !== false;
    if (o.reconnect === false) {
      this.#reconnect = null;
    } else {
      this.#reconnect = { ...DEFAULT_RECONNECT, ...o.reconnect };
      checkReconnect(this.#reconnect);
    }

    if (o.webSocketFactory) {
      this.#factory = o.webSocketFactory;
    } else {
      const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
      if (typeof WS !== "function") {
        throw new Error("SignallingClient: no globalThis.WebSocket — pass `webSocketFactory` in options");
      }
      this.#factory = (url) => new WS(url);
    }
    this.#events = new Emitter((err, event) => this.#log.error("listener threw", { event, err }));
  }

  /** The lifecycle state. */
  get state(): SignallingClientState {
    return this.#state;
  }

  /** Only the state: the credential and connection internals never serialize. */
  toJSON(): { state: SignallingClientState } {
    return { state: this.#state };
  }

  on<K extends keyof SignallingClientEventMap>(event: K, handler: Handler<K>): this {
    this.#events.on(event, handler);
    return this;
  }

  off<K extends keyof SignallingClientEventMap>(event: K, handler: Handler<K>): this {
    this.#events.off(event, handler);
    return this;
  }

  once<K extends keyof SignallingClientEventMap>(event: K, handler: Handler<K>): this {
    this.#events.once(event, handler);
    return this;
  }

  /**
   * Opens the connection; resolves on the server's welcome. Allowed from `idle` and `closed`. A
   * failure of this first attempt is never retried: it rejects and the client goes `closed`.
   */
  connect(): Promise<void> {
    if (this.#state !== "idle" && this.#state !== "closed") {
      return Promise.reject(new Error(`SignallingClient.connect: invalid state '${this.#state}'`));
    }
    this.#userClosed = false;
    this.#closingWs = null;
    this.#attempts = 0;
    this.#floorMs = 0;
    this.#everConnected = false;
    return this.#open();
  }

  /**
   * Closes for good (no reconnect) and goes `closed` at once. Resolves when the socket's close
   * event arrives, or after 1000 ms. connect() may be called again afterwards.
   */
  close(code = 1000, reason = "client requested close"): Promise<void> {
    this.#userClosed = true;
    this.#clearTimer(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#stopLiveness();
    this.#tokenAbort?.(new Error("SignallingClient.connect: closed before the connection was established"));
    const ws = this.#ws;
    if (!ws) {
      this.#setState("closed");
      return Promise.resolve();
    }
    // Detach from the socket now: nothing waits on its close event except the final
    // `disconnected` report.
    this.#ws = null;
    this.#closingWs = ws;
    this.#failWelcome(new SignallingConnectError(code, reason));
    this.#rejectPending(code, reason);
    this.#setState("closed");
    return this.#shut(ws, code, reason);
  }

  /** Subscribes to a channel (remembered for auto-resubscribe); resolves on the server's ack. */
  subscribe(channel: string, opts: SubscribeOptions = {}): Promise<void> {
    try {
      validateChannel(channel);
    } catch (err) {
      return Promise.reject(err);
    }
    const remembered = this.#subs.has(channel);
    this.#subs.set(channel, { ...opts });
    return this.#request(subscribeFrame(channel, opts)).catch((err: Error) => {
      // The caller learns the subscribe failed, so a channel that never left the client, or that
      // the server refused, is not replayed later. A drop mid-flight keeps it (it may have landed).
      if (!remembered && (err.name === "NotConnectedError" || this.#serverRejections.has(err))) {
        this.#subs.delete(channel);
      }
      throw err;
    });
  }

  /** Unsubscribes (and forgets the channel at once). */
  unsubscribe(channel: string): Promise<void> {
    try {
      validateChannel(channel);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#subs.delete(channel);
    return this.#request((id) => ({ type: "unsubscribe", channel, requestId: id }));
  }

  /** Broadcasts `data` (any JSON value but undefined) to a channel. */
  publish(channel: string, data: unknown, _opts?: PublishOptions): Promise<void> {
    try {
      validateChannel(channel);
      this.#checkData(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request((id) => ({ type: "publish", channel, data, requestId: id }));
  }

  /** Sends `data` to every connection of one peer. */
  send(toPeerId: string, data: unknown, _opts?: SendOptions): Promise<void> {
    try {
      validatePeerId(toPeerId);
      this.#checkData(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#request((id) => ({ type: "send", to: toPeerId, data, requestId: id }));
  }

  // ---- connection ----

  async #open(): Promise<void> {
    const epoch = ++this.#epoch;
    this.#setState(this.#attempts > 0 ? "reconnecting" : "connecting");
    let query: string;
    if (this.#apiKey !== undefined) {
      query = "key=" + encodeURIComponent(this.#apiKey);
    } else {
      let token: string;
      try {
        token = await this.#resolveToken();
      } catch (raw) {
        if (epoch !== this.#epoch) throw superseded();
        if (this.#userClosed) throw raw;
        const err = scrubError(raw);
        const failures = ++this.#tokenFailures;
        if (failures >= TOKEN_ERROR_THRESHOLD) {
          this.#emit("token-provider-error", { consecutiveFailures: failures, err });
        }
        if (this.#mayReconnect(null)) {
          this.#log.warn("tokenProvider failed; scheduling reconnect", { err: err.message, failures });
          this.#scheduleReconnect();
          return;
        }
        if (this.#everConnected) {
          // Out of attempts while reconnecting: report the end like any other final drop.
          this.#emit("disconnected", { code: 1006, reason: "token provider failed", willReconnect: false });
        }
        this.#setState("closed");
        throw err;
      }
      if (epoch !== this.#epoch) throw superseded();
      this.#tokenFailures = 0;
      query = "token=" + encodeURIComponent(token);
    }
    const url = `${this.#origin}/v1?${query}`;
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = this.#factory(url);
      } catch (err) {
        reject(scrubError(err));
        this.#handleClose(1006, "websocket construction failed");
        return;
      }
      this.#ws = ws;
      this.#bind(ws);
      const wait: Settle = {
        resolve,
        reject,
        timer: setTimeout(() => {
          if (this.#welcome !== wait) return;
          this.#welcome = null;
          reject(new Error(`no welcome frame within ${WELCOME_TIMEOUT_MS}ms`));
          void this.#shut(ws, 4000, "welcome timeout");
        }, WELCOME_TIMEOUT_MS),
      };
      this.#welcome = wait;
    });
  }

  #resolveToken(): Promise<string> {
    const provider = this.#tokenProvider as () => Promise<string>;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null, token?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.#tokenAbort === abort) this.#tokenAbort = null;
        if (err) reject(err);
        else resolve(token as string);
      };
      const abort = (err: Error): void => settle(err);
      const timer = setTimeout(
        () => settle(new Error(`tokenProvider did not resolve within ${this.#tokenTimeoutMs}ms`)),
        this.#tokenTimeoutMs,
      );
      this.#tokenAbort = abort;
      new Promise<unknown>((r) => r(provider())).then(
        (t) => settle(typeof t === "string" && t !== "" ? null : new Error("tokenProvider returned an empty token"), t as string),
        (e: unknown) => settle(e instanceof Error ? e : new Error(String(e))),
      );
    });
  }

  #bind(ws: WebSocketLike): void {
    const handlers: Record<"open" | "message" | "close" | "error", (ev: unknown) => void> = {
      open: () => {
        if (this.#ws !== ws) return;
        this.#armIdle(ws);
        this.#armPing(ws);
      },
      message: (ev) => this.#onMessage(ws, (ev as { data?: unknown } | null)?.data),
      close: (ev) => {
        const e = (ev ?? {}) as { code?: unknown; reason?: unknown };
        this.#onClose(ws, typeof e.code === "number" ? e.code : 1006, typeof e.reason === "string" ? e.reason : "");
      },
      error: () => this.#log.warn("ws error event"),
    };
    const types = Object.keys(handlers) as (keyof typeof handlers)[];
    for (const t of types) ws.addEventListener(t, handlers[t]);
    this.#sockets.set(ws, () => {
      for (const t of types) ws.removeEventListener(t, handlers[t]);
    });
  }

  /** Closes `ws`; if its close event has not come within 1000 ms, handles the close anyway. */
  #shut(ws: WebSocketLike, code: number, reason: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        ws.removeEventListener("close", done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#onClose(ws, code, reason);
        done();
      }, CLOSE_WAIT_MS);
      ws.addEventListener("close", done);
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    });
  }

  #onClose(ws: WebSocketLike, code: number, reason: string): void {
    const detach = this.#sockets.get(ws);
    if (!detach) return; // already handled
    this.#sockets.delete(ws);
    detach();
    if (ws === this.#closingWs) {
      this.#closingWs = null;
      this.#emit("disconnected", { code, reason, willReconnect: false });
    } else if (ws === this.#ws) {
      this.#ws = null;
      this.#handleClose(code, reason);
    } // else: a stale socket
  }

  #handleClose(code: number, reason: string): void {
    this.#log.info("ws closed", { code, reason });
    this.#stopLiveness();
    this.#failWelcome(new SignallingConnectError(code, reason));
    this.#rejectPending(code, reason);
    if (code === 4010) this.#floorMs = SLOW_BACKOFF_FLOOR_MS;
    const willReconnect = this.#mayReconnect(code);
    this.#emit("disconnected", { code, reason, willReconnect });
    if (willReconnect) this.#scheduleReconnect();
    else this.#setState("closed");
  }

  #failWelcome(err: Error): void {
    const w = this.#welcome;
    if (!w) return;
    this.#welcome = null;
    clearTimeout(w.timer);
    w.reject(err);
  }

  #rejectPending(code: number, reason: string): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(disconnectedError(code, reason));
    }
  }

  #mayReconnect(code: number | null): boolean {
    const r = this.#reconnect;
    return (
      r !== null &&
      !this.#userClosed &&
      this.#everConnected &&
      !(code !== null && TERMINAL_CODES.includes(code)) &&
      this.#attempts < r.maxAttempts
    );
  }

  #scheduleReconnect(): void {
    const r = this.#reconnect;
    if (!r || this.#userClosed || this.#reconnectTimer !== null) return;
    this.#attempts += 1;
    const base = Math.max(Math.min(r.initialDelayMs * r.multiplier ** (this.#attempts - 1), r.maxDelayMs), this.#floorMs);
    this.#floorMs = 0;
    const delay = Math.max(0, Math.floor(base + base * r.jitterRatio * (Math.random() * 2 - 1)));
    this.#setState("reconnecting");
    this.#log.info("scheduling reconnect", { attempt: this.#attempts, delayMs: delay });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open().catch((err: unknown) => this.#log.warn("reconnect attempt failed", { err: String(err) }));
    }, delay);
  }

  // ---- inbound ----

  #onMessage(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return; // a stale socket, or one close() shut
    if (typeof data !== "string") {
      this.#log.warn("dropping a non-text frame");
      return;
    }
    if (data.length > MAX_INBOUND_CHARS) {
      this.#log.warn("inbound frame too large", { size: data.length });
      void this.#shut(ws, 1009, "frame exceeded client cap");
      return;
    }
    this.#armIdle(ws);
    this.#armPing(ws);
    const frame = parseServerFrame(data);
    if (!frame) {
      this.#log.warn("dropping a malformed frame", { frame: data.slice(0, 200) });
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.#onWelcome(frame.payload);
        return;
      case "ack":
        this.#settle(frame.requestId, null);
        return;
      case "error": {
        const p = frame.payload;
        if (p.requestId !== undefined && this.#pending.has(p.requestId)) {
          const err = namedError(p.code, p.message ?? p.code);
          this.#serverRejections.add(err);
          this.#settle(p.requestId, err);
        } else if (p.code !== "unknown_type" || p.requestId !== undefined) {
          // (unknown_type without requestId: a server that does not know `ping`)
          this.#emit("server-error", p);
        }
        return;
      }
      case "going_away":
        this.#emit("going-away", frame.payload);
        return;
      case "pong":
        return;
      default:
        this.#emit(frame.type, frame.payload as never);
    }
  }

  #onWelcome(p: WelcomePayload): void {
    const w = this.#welcome;
    if (!w || this.#userClosed) {
      this.#log.warn("ignoring unexpected welcome");
      return;
    }
    this.#welcome = null;
    clearTimeout(w.timer);
    const isReconnect = this.#everConnected;
    this.#everConnected = true;
    this.#attempts = 0;
    this.#floorMs = 0;
    this.#maxMessageSize = p.maxMessageSize;
    this.#replayRetries.clear();
    this.#setState("connected");
    w.resolve();
    const iceServers = iceServersFrom(p.metadata);
    this.#emit("connected", {
      peerId: p.peerId,
      serverTime: p.serverTime,
      expiresAt: p.expiresAt,
      isReconnect,
      maxMessageSize: p.maxMessageSize,
      ...(iceServers ? { iceServers } : {}),
    });
    if (isReconnect && this.#autoResubscribe && this.#state === "connected") {
      for (const channel of this.#subs.keys()) this.#replay(channel);
    }
  }

  #replay(channel: string): void {
    const opts = this.#subs.get(channel);
    if (!opts) return;
    this.#request(subscribeFrame(channel, opts)).catch((err: Error) => {
      if (this.#state !== "connected") return; // the next welcome replays with a fresh budget
      const used = this.#replayRetries.get(channel) ?? 0;
      if (used >= REPLAY_RETRIES) {
        this.#log.warn("resubscribe failed", { channel, err: err.message });
        return;
      }
      this.#replayRetries.set(channel, used + 1);
      const t = setTimeout(() => {
        this.#replayTimers.delete(t);
        if (this.#state === "connected") this.#replay(channel);
      }, REPLAY_RETRY_MS);
      this.#replayTimers.add(t);
    });
  }

  // ---- requests ----

  #checkData(data: unknown): void {
    if (data === undefined) throw new TypeError("data must not be undefined");
    let text: string | undefined;
    try {
      text = JSON.stringify(data);
    } catch {
      return; // not serialisable: the frame builder reports it
    }
    if (typeof text !== "string") return;
    const size = utf8Length(text);
    const cap = this.#maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (size > cap) throw new OversizedPayloadError(size, cap);
  }

  #request(build: (requestId: string) => object): Promise<void> {
    const ws = this.#ws;
    if (this.#state !== "connected" || !ws) {
      return Promise.reject(namedError("NotConnectedError", `SignallingClient: not connected (state=${this.#state})`));
    }
    const id = requestId();
    let frame: string;
    try {
      frame = JSON.stringify(build(id));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`ack timeout for requestId=${id} (no server ack within ${ACK_TIMEOUT_MS}ms)`));
      }, ACK_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        ws.send(frame);
      } catch (err) {
        this.#settle(id, scrubError(err));
      }
    });
  }

  #settle(id: string, err: Error | null): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve();
  }

  // ---- liveness ----

  /** The watchdog: no inbound text frame for inactivityTimeoutMs → close 4000 and reconnect. */
  #armIdle(ws: WebSocketLike): void {
    if (!this.#idleMs) return;
    this.#clearTimer(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#ws !== ws) return;
      this.#log.warn("inactivity timeout; closing", { ms: this.#idleMs });
      void this.#shut(ws, 4000, "inactivity timeout");
    }, this.#idleMs);
  }

  /** The keepalive: a ping after a third of the watchdog without inbound traffic, repeated. */
  #armPing(ws: WebSocketLike): void {
    if (!this.#idleMs) return;
    this.#clearTimer(this.#pingTimer);
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = null;
      if (this.#ws !== ws) return;
      if (this.#state === "connected" && ws.readyState === 1) {
        try {
          ws.send('{"type":"ping"}');
        } catch {
          // the close event follows
        }
      }
      this.#armPing(ws);
    }, Math.max(1000, Math.floor(this.#idleMs / 3)));
  }

  #stopLiveness(): void {
    this.#clearTimer(this.#idleTimer);
    this.#clearTimer(this.#pingTimer);
    this.#idleTimer = this.#pingTimer = null;
    for (const t of this.#replayTimers) clearTimeout(t);
    this.#replayTimers.clear();
  }

  #clearTimer(t: Timer | null): void {
    if (t !== null) clearTimeout(t);
  }

  // ---- events ----

  #setState(to: SignallingClientState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#emit("state-change", { from, to });
  }

  #emit<K extends keyof SignallingClientEventMap>(event: K, payload: SignallingClientEventMap[K]): void {
    this.#events.emit(event, payload);
  }
}

function subscribeFrame(channel: string, opts: SubscribeOptions): (requestId: string) => object {
  return (id) => ({
    type: "subscribe",
    channel,
    requestId: id,
    ...(opts.includeSenderMetadata === true ? { includeSenderMetadata: true } : {}),
  });
}

const superseded = (): Error => new Error("SignallingClient.connect: superseded by a newer connect()");
