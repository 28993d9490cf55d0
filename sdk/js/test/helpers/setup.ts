import { vi } from "vitest";
import { SignallingClient } from "../../src/signalling-client.js";
import type { SignallingClientEventMap, SignallingClientOptions } from "../../src/types.js";
import { FakeServer, flush } from "./fake-server.js";

export const EVENTS: (keyof SignallingClientEventMap)[] = [
  "connected",
  "disconnected",
  "state-change",
  "message",
  "direct",
  "presence",
  "server-error",
  "going-away",
  "token-provider-error",
];

export const API_KEY = "pk_live_secret/+= value";

/** A client wired to a fresh FakeServer, with every event recorded in order. */
export function setup(opts: Partial<SignallingClientOptions> = {}) {
  const server = new FakeServer();
  const base: SignallingClientOptions = { url: "ws://localhost:8080", webSocketFactory: server.factory };
  if (!opts.tokenProvider) base.apiKey = API_KEY;
  const client = new SignallingClient({ ...base, ...opts } as SignallingClientOptions);
  const events: { name: keyof SignallingClientEventMap; payload: unknown }[] = [];
  for (const name of EVENTS) client.on(name, (payload) => events.push({ name, payload }));
  const of = <K extends keyof SignallingClientEventMap>(name: K): SignallingClientEventMap[K][] =>
    events.filter((e) => e.name === name).map((e) => e.payload as SignallingClientEventMap[K]);
  const states = (): string[] => of("state-change").map((s) => s.to);
  return { server, client, events, of, states };
}

/** Connects with the fake server accepting at once. */
export async function connected(opts: Partial<SignallingClientOptions> = {}) {
  const t = setup(opts);
  const p = t.client.connect();
  await flush();
  await p;
  return t;
}

/** Advances fake time, letting microtasks run between timers. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush();
}
