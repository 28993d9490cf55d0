// A deterministic in-memory server for unit tests: the client's webSocketFactory returns FakeSockets
// that the test drives by hand (open, welcome, frames, close) or that the server answers by itself
// (acceptAll: open + welcome; autoAck: an ack for every request). Everything the server does happens
// in a microtask, like a real socket's events, so the client has attached its listeners first.
import type { WebSocketLike } from "../../src/types.js";

type Listener = (ev: unknown) => void;
export type Frame = Record<string, unknown> & { type: string; requestId?: string };

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

export class FakeSocket implements WebSocketLike {
  readyState = CONNECTING;
  /** Text frames the client sent, in order. */
  readonly sent: string[] = [];
  /** Arguments of every close() call the client made. */
  readonly closeCalls: { code: number | undefined; reason: string | undefined }[] = [];
  readonly #listeners = new Map<string, Listener[]>();

  constructor(
    readonly url: string,
    readonly server: FakeServer,
  ) {}

  addEventListener(type: string, listener: Listener): void {
    const list = this.#listeners.get(type) ?? [];
    list.push(listener);
    this.#listeners.set(type, list);
  }

  removeEventListener(type: string, listener: Listener): void {
    const list = this.#listeners.get(type) ?? [];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  listenerCount(type: string): number {
    return this.#listeners.get(type)?.length ?? 0;
  }

  send(data: string): void {
    if (this.readyState !== OPEN) throw new Error("InvalidStateError: socket not open");
    this.sent.push(data);
    queueMicrotask(() => this.server.onClientFrame(this, JSON.parse(data) as Frame));
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    if (this.server.echoClose) {
      // A real server echoes the client's close frame; the close event then reports that code.
      queueMicrotask(() => this.serverClose(code ?? 1005, reason ?? ""));
    }
  }

  /** The client's frames, parsed. */
  get frames(): Frame[] {
    return this.sent.map((s) => JSON.parse(s) as Frame);
  }

  framesOf(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  // ---- server side ----

  emit(type: string, ev: unknown): void {
    for (const l of [...(this.#listeners.get(type) ?? [])]) l(ev);
  }

  open(): void {
    this.readyState = OPEN;
    this.emit("open", { type: "open" });
  }

  /** Sends a text frame (an object is JSON-encoded). */
  frame(data: unknown): void {
    this.emit("message", { data: typeof data === "string" ? data : JSON.stringify(data) });
  }

  welcome(overrides: Record<string, unknown> = {}): void {
    this.frame({ type: "welcome", peerId: this.server.peerId, expiresAt: null, serverTime: 1700000000, maxMessageSize: 65536, ...overrides });
  }

  ack(requestId: string | undefined): void {
    this.frame({ type: "ack", requestId });
  }

  serverClose(code: number, reason = ""): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit("close", { code, reason, wasClean: true });
  }
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  /** Open and welcome every new socket. */
  acceptAll = true;
  /** Ack every client request that carries a requestId. */
  autoAck = true;
  /** Answer a client close() with a close event carrying the client's code. */
  echoClose = true;
  /** Answer pings with pongs. */
  autoPong = true;
  peerId = "peer-1";
  welcomeExtra: Record<string, unknown> = {};
  /** Called for every client frame before the automatic answers; return true to suppress them. */
  onFrame: ((socket: FakeSocket, frame: Frame) => boolean | void) | null = null;
  factoryError: Error | null = null;
  /** When set, every new socket is closed with this code before any welcome. */
  refuse: number | null = null;

  readonly factory = (url: string): WebSocketLike => {
    if (this.factoryError) throw this.factoryError;
    const s = new FakeSocket(url, this);
    this.sockets.push(s);
    const refuse = this.refuse;
    if (refuse !== null) {
      queueMicrotask(() => s.serverClose(refuse));
    } else if (this.acceptAll) {
      queueMicrotask(() => {
        if (s.readyState !== CONNECTING) return;
        s.open();
        s.welcome(this.welcomeExtra);
      });
    }
    return s;
  };

  get last(): FakeSocket {
    const s = this.sockets[this.sockets.length - 1];
    if (!s) throw new Error("no socket yet");
    return s;
  }

  onClientFrame(socket: FakeSocket, frame: Frame): void {
    if (socket.readyState !== OPEN) return;
    if (this.onFrame?.(socket, frame)) return;
    if (frame.type === "ping" && this.autoPong) socket.frame({ type: "pong" });
    else if (this.autoAck && typeof frame.requestId === "string") socket.ack(frame.requestId);
  }
}

/** Lets pending microtasks (fake socket events, promise continuations) run. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
