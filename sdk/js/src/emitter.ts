// A small typed event emitter: synchronous dispatch in registration order over a snapshot of the
// listeners; a throwing listener is reported through `onError` and the others still run.
// SignallingClient holds one; MeteredPeer, RemotePeer and DataChannel extend it (so their
// on/off/once return `this`, like the official SDK's EventEmitter).

type EventHandler<P> = (payload: P) => void;
type Wrapped = EventHandler<never> & { orig?: unknown };

/** A count of listeners for one event at which a one-shot warning is printed (a leak, usually). */
const MAX_LISTENERS_WARN = 100;

const defaultOnError = (err: unknown, event: string): void =>
  console.error(`[@parley/realtime] listener for "${event}" threw`, err);

export class Emitter<M> {
  #map = new Map<keyof M, Wrapped[]>();
  #warned = new Set<keyof M>();
  readonly #onError: (err: unknown, event: string) => void;

  constructor(onError: (err: unknown, event: string) => void = defaultOnError) {
    this.#onError = onError;
  }

  on<K extends keyof M>(event: K, handler: EventHandler<M[K]>): this {
    const list = this.#map.get(event);
    if (list) list.push(handler as Wrapped);
    else this.#map.set(event, [handler as Wrapped]);
    if (this.listenerCount(event) >= MAX_LISTENERS_WARN && !this.#warned.has(event)) {
      this.#warned.add(event);
      console.warn(`[@parley/realtime] ${MAX_LISTENERS_WARN} listeners for "${String(event)}": a leak?`);
    }
    return this;
  }

  /** Removes the first registration of `handler`, including one made with `once`. */
  off<K extends keyof M>(event: K, handler: EventHandler<M[K]>): this {
    const list = this.#map.get(event);
    if (!list) return this;
    const i = list.findIndex((h) => h === handler || h.orig === handler);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#map.delete(event);
    if (list.length < MAX_LISTENERS_WARN) this.#warned.delete(event);
    return this;
  }

  once<K extends keyof M>(event: K, handler: EventHandler<M[K]>): this {
    const wrapper: EventHandler<M[K]> & { orig?: unknown } = (payload) => {
      this.off(event, wrapper);
      handler(payload);
    };
    wrapper.orig = handler;
    return this.on(event, wrapper);
  }

  /** Calls every listener of `event`; false when there was none. */
  emit<K extends keyof M>(event: K, payload: M[K]): boolean {
    const list = this.#map.get(event);
    if (!list) return false;
    for (const h of list.slice()) {
      try {
        (h as EventHandler<M[K]>)(payload);
      } catch (err) {
        this.#onError(err, String(event));
      }
    }
    return true;
  }

  listenerCount<K extends keyof M>(event: K): number {
    return this.#map.get(event)?.length ?? 0;
  }

  removeAllListeners(): this {
    this.#map.clear();
    this.#warned.clear();
    return this;
  }
}
