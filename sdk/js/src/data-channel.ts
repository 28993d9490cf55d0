// DataChannel: an RTCDataChannel with typed events and a send() that waits while too much is
// buffered (SDK.md §10). Sends go out strictly in call order; each settles on its own.
import { Emitter } from "./emitter.js";
import { DataChannelOverflowError } from "./peer-errors.js";
import type { DataChannelEventMap, DataChannelOptions, PeerConnectionLogger, RTCDataChannelLike } from "./peer-types.js";
import { utf8Length } from "./protocol.js";

const DEFAULT_MAX_BUFFERED = 1048576;
const DEFAULT_MAX_QUEUED_SENDS = 256;

const closedError = (): Error => new Error("DataChannel is closed");

export class DataChannel extends Emitter<DataChannelEventMap> {
  readonly label: string;
  readonly #channel: RTCDataChannelLike;
  readonly #log: PeerConnectionLogger;
  readonly #maxBuffered: number;
  readonly #maxQueued: number;
  #queued = 0;
  #chain: Promise<unknown> = Promise.resolve();
  /** Wakes every send waiting for `bufferedamountlow`. */
  #waiters = new Set<() => void>();
  #closed = false;
  readonly #detach: () => void;

  /** Wraps `channel` and sets its bufferedAmountLowThreshold (default maxBufferedAmount / 2). */
  constructor(channel: RTCDataChannelLike, opts: DataChannelOptions = {}) {
    super();
    this.#channel = channel;
    this.label = channel.label;
    this.#log = opts.logger ?? {};
    this.#maxBuffered = opts.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED;
    this.#maxQueued = opts.maxQueuedSends ?? DEFAULT_MAX_QUEUED_SENDS;
    channel.bufferedAmountLowThreshold = opts.bufferedAmountLowThreshold ?? Math.floor(this.#maxBuffered / 2);
    const handlers: Record<string, (ev: unknown) => void> = {
      open: () => this.emit("open", undefined),
      close: () => this.#shutdown(),
      error: (ev) => {
        const e = (ev as { error?: unknown } | null)?.error;
        this.emit("error", { err: e instanceof Error ? e : new Error(typeof e === "string" ? e : "RTCDataChannel error") });
      },
      message: (ev) => this.emit("message", { data: (ev as { data: string | ArrayBuffer }).data }),
    };
    const entries = Object.entries(handlers).map(([t, h]) => [t, (ev: unknown) => this.#closed || h(ev)] as const);
    for (const [t, h] of entries) channel.addEventListener(t, h);
    this.#detach = () => {
      for (const [t, h] of entries) channel.removeEventListener(t, h);
    };
  }

  get readyState(): RTCDataChannelState {
    return this.#channel.readyState;
  }

  get bufferedAmount(): number {
    return this.#channel.bufferedAmount;
  }

  /**
   * Queues `data`; resolves once handed to the channel. Rejects if the channel is not open when
   * its turn comes, on close, and with DataChannelOverflowError when maxQueuedSends are waiting.
   * While the buffer holds more than maxBufferedAmount (with this message), waits for it to drain;
   * a message bigger than the limit goes alone, once the buffer is empty.
   */
  send(data: string | ArrayBuffer): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#queued >= this.#maxQueued) return Promise.reject(new DataChannelOverflowError(this.#queued, this.#maxQueued));
    this.#queued++;
    const next = this.#chain.then(() => this.#send(data)).finally(() => this.#queued--);
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Closes the channel and rejects waiting sends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#shutdown(true);
  }

  async #send(data: string | ArrayBuffer): Promise<void> {
    const ch = this.#channel;
    const check = (): void => {
      if (this.#closed) throw closedError();
      if (ch.readyState !== "open") throw new Error(`DataChannel not open (readyState=${ch.readyState})`);
    };
    check();
    const size = typeof data === "string" ? utf8Length(data) : data.byteLength;
    while (ch.bufferedAmount > 0 && ch.bufferedAmount + size > this.#maxBuffered) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          ch.removeEventListener("bufferedamountlow", wake);
          this.#waiters.delete(wake);
          resolve();
        };
        ch.addEventListener("bufferedamountlow", wake);
        this.#waiters.add(wake);
      });
      check();
    }
    ch.send(data);
  }

  /** Marks closed, wakes waiting sends, reports `close` once and drops every listener. */
  #shutdown(closeChannel = false): void {
    this.#closed = true;
    this.#detach();
    for (const wake of [...this.#waiters]) wake();
    if (closeChannel) {
      try {
        this.#channel.close();
      } catch (err) {
        this.#log.warn?.("DataChannel close() threw", { label: this.label, err: String(err) });
      }
    } else {
      this.emit("close", undefined);
    }
    this.removeAllListeners();
  }
}
