// A small typed event emitter: synchronous dispatch in registration order over a snapshot of the
// listeners; a throwing listener is reported through `onError` and the others still run.

type Handler<P> = (payload: P) => void;
type Wrapped = Handler<never> & { orig?: unknown };

export class Emitter<M> {
  #map = new Map<keyof M, Wrapped[]>();
  readonly #onError: (err: unknown, event: string) => void;

  constructor(onError: (err: unknown, event: string) => void) {
    this.#onError = onError;
  }

  on<K extends keyof M>(event: K, handler: Handler<M[K]>): void {
    const list = this.#map.get(event);
    if (list) list.push(handler as Wrapped);
    else this.#map.set(event, [handler as Wrapped]);
  }

  /** Removes the first registration of `handler`, including one made with `once`. */
  off<K extends keyof M>(event: K, handler: Handler<M[K]>): void {
    const list = this.#map.get(event);
    if (!list) return;
    const i = list.findIndex((h) => h === handler || h.orig === handler);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#map.delete(event);
  }

  once<K extends keyof M>(event: K, handler: Handler<M[K]>): void {
    const wrapper: Handler<M[K]> & { orig?: unknown } = (payload) => {
      this.off(event, wrapper);
      handler(payload);
    };
    wrapper.orig = handler;
    this.on(event, wrapper);
  }

  emit<K extends keyof M>(event: K, payload: M[K]): boolean {
    const list = this.#map.get(event);
    if (!list) return false;
    for (const h of list.slice()) {
      try {
        (h as Handler<M[K]>)(payload);
      } catch (err) {
        this.#onError(err, String(event));
      }
    }
    return true;
  }
}
