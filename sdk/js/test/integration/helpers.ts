// Shared helpers for the tests against a real parleyd: the server harness of the repository's test
// suite, JWT minting, the WebSocket choice per Node version and event waiting.
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import WebSocket from "ws";
import { binary, defaultConfig, defaultKeys, startParleyd } from "../../../../tests/lib/parleyd.mjs";
import type * as Api from "../../src/index.js";

export { defaultConfig, defaultKeys, startParleyd };
export type Server = Awaited<ReturnType<typeof startParleyd>>;
export type Sdk = { SignallingClient: typeof Api.SignallingClient };
export type Client = Api.SignallingClient;
type EventMap = Api.SignallingClientEventMap;

if (!existsSync(binary)) {
  throw new Error(`parleyd not found at ${binary}: build it (make build) or set PARLEYD to its path`);
}

/** The Parley SDK as built in dist/ (the bundle users get), typed from the sources. */
export async function parleySdk(): Promise<Sdk> {
  const url = new URL("../../dist/index.mjs", import.meta.url).href;
  return (await import(/* @vite-ignore */ url)) as Sdk;
}

/** The official @metered-ca/realtime 1.2.0, which has the same surface for SignallingClient. */
export async function officialSdk(): Promise<Sdk> {
  return (await import("@metered-ca/realtime")) as unknown as Sdk;
}

/**
 * On Node 22+ the clients use the global WebSocket (no factory), as an application would; on older
 * Node, or with PARLEY_TEST_WS=ws, they get a `ws` factory.
 */
export const useGlobalWebSocket =
  typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function" && process.env.PARLEY_TEST_WS !== "ws";

export function socketOptions(): Partial<Api.SignallingClientOptions> {
  return useGlobalWebSocket ? {} : { webSocketFactory: (url: string) => new WebSocket(url) };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** An HS256 connection token for the default secret key (PROTOCOL.md §3.3). */
export function mintToken(claims: Record<string, unknown>, secret = defaultKeys.skSecret): string {
  const header = b64url(JSON.stringify({ alg: "HS256", kid: defaultKeys.skId, typ: "JWT" }));
  const payload = b64url(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  const sig = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${b64url(sig)}`;
}

/** Resolves with the first `name` event whose payload satisfies `pred`. */
export function waitFor<K extends keyof EventMap>(
  client: Client,
  name: K,
  pred: (p: EventMap[K]) => boolean = () => true,
  timeoutMs = 15000,
): Promise<EventMap[K]> {
  return new Promise((resolve, reject) => {
    const h = (p: EventMap[K]) => {
      if (!pred(p)) return;
      clearTimeout(t);
      client.off(name, h);
      resolve(p);
    };
    const t = setTimeout(() => {
      client.off(name, h);
      reject(new Error(`timed out waiting for ${String(name)}`));
    }, timeoutMs);
    client.on(name, h);
  });
}

/** Records every event of a client. */
export function record(client: Client) {
  const events: { name: keyof EventMap; payload: unknown }[] = [];
  const names: (keyof EventMap)[] = ["connected", "disconnected", "state-change", "message", "direct", "presence", "server-error", "going-away", "token-provider-error"];
  for (const name of names) client.on(name, (payload) => events.push({ name, payload }));
  return <K extends keyof EventMap>(name: K): EventMap[K][] =>
    events.filter((e) => e.name === name).map((e) => e.payload as EventMap[K]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The same configuration, listening on a fixed port (to restart a server where it was). */
export function onPort(config: string, port: number): string {
  return config.replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`);
}
