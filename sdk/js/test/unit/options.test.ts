import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SignallingClient } from "../../src/signalling-client.js";
import type { SignallingClientOptions } from "../../src/types.js";
import { FakeServer, flush } from "../helpers/fake-server.js";
import { API_KEY, connected, setup } from "../helpers/setup.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const factory = new FakeServer().factory;
const make = (o: Partial<SignallingClientOptions>) =>
  new SignallingClient({ url: "ws://localhost:1", webSocketFactory: factory, ...o } as SignallingClientOptions);

describe("constructor validation", () => {
  it("needs exactly one of apiKey and tokenProvider", () => {
    const tp = async () => "t";
    expect(() => make({})).toThrow(TypeError);
    expect(() => make({ apiKey: "" })).toThrow(TypeError);
    expect(() => make({ apiKey: "k", tokenProvider: tp })).toThrow(TypeError);
    expect(() => make({ apiKey: "", tokenProvider: tp })).not.toThrow();
    expect(() => make({ apiKey: "k" })).not.toThrow();
  });

  it.each([
    ["wss://example.com", true],
    ["wss://example.com/", true],
    ["wss://example.com:8443", true],
    ["ws://localhost:8080", true],
    ["ws://127.0.0.1:8080/", true],
    ["ws://[::1]:8080", true],
    ["ws://example.com", false],
    ["ws://10.0.0.1:8080", false],
    ["http://localhost:8080", false],
    ["https://example.com", false],
    ["wss://example.com/v1", false],
    ["wss://example.com/?a=1", false],
    ["wss://example.com/#x", false],
    ["not a url", false],
  ])("url %s accepted: %s", (url, ok) => {
    const f = () => make({ apiKey: "k", url });
    if (ok) expect(f).not.toThrow();
    else expect(f).toThrow(TypeError);
  });

  it("validates the numeric options", () => {
    expect(() => make({ apiKey: "k", inactivityTimeoutMs: Number.NaN })).toThrow(TypeError);
    for (const v of [0, -1, Infinity, 1000]) expect(() => make({ apiKey: "k", inactivityTimeoutMs: v })).not.toThrow();
    for (const v of [0, -5, Number.NaN, Infinity]) {
      expect(() => make({ apiKey: "k", tokenProviderTimeoutMs: v })).toThrow(TypeError);
    }
    expect(() => make({ apiKey: "k", tokenProviderTimeoutMs: 1 })).not.toThrow();
  });

  it.each([
    [{ initialDelayMs: -1 }],
    [{ initialDelayMs: Number.NaN }],
    [{ multiplier: 0.5 }],
    [{ multiplier: Infinity }],
    [{ maxDelayMs: -1 }],
    [{ jitterRatio: 1.5 }],
    [{ jitterRatio: -0.1 }],
    [{ maxAttempts: 0 }],
    [{ maxAttempts: 2.5 }],
  ])("rejects reconnect %o", (reconnect) => {
    expect(() => make({ apiKey: "k", reconnect })).toThrow(TypeError);
  });

  it("accepts partial reconnect options, Infinity attempts and false", () => {
    expect(() => make({ apiKey: "k", reconnect: { maxAttempts: Infinity } })).not.toThrow();
    expect(() => make({ apiKey: "k", reconnect: { multiplier: 1, jitterRatio: 0 } })).not.toThrow();
    expect(() => make({ apiKey: "k", reconnect: false })).not.toThrow();
  });

  it("needs a global WebSocket when no factory is given", () => {
    vi.stubGlobal("WebSocket", undefined);
    try {
      expect(() => new SignallingClient({ apiKey: "k" })).toThrow(/webSocketFactory/);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("uses the global WebSocket by default", async () => {
    const server = new FakeServer();
    const urls: string[] = [];
    vi.stubGlobal(
      "WebSocket",
      class {
        constructor(url: string) {
          urls.push(url);
          return server.factory(url);
        }
      },
    );
    try {
      const c = new SignallingClient({ apiKey: "k", url: "ws://localhost:9" });
      const p = c.connect();
      await flush();
      await p;
      expect(urls).toEqual(["ws://localhost:9/v1?key=k"]);
      expect(c.state).toBe("connected");
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("connect URL and credential isolation", () => {
  it("appends /v1?key= with the key percent-encoded and keeps only the origin", async () => {
    const { server } = await connected({ url: "ws://user:pw@localhost:8080/" });
    expect(server.last.url).toBe(`ws://localhost:8080/v1?key=${encodeURIComponent(API_KEY)}`);
  });

  it("defaults to the Metered origin", () => {
    const server = new FakeServer();
    const c = new SignallingClient({ apiKey: "k", webSocketFactory: server.factory });
    void c.connect();
    expect(server.last.url).toBe("wss://rms.metered.ca/v1?key=k");
  });

  it("sends ?token= with the provider's token", async () => {
    const { server } = await connected({ tokenProvider: async () => "a.b+c" });
    expect(server.last.url).toBe("ws://localhost:8080/v1?token=a.b%2Bc");
  });

  it("serializes to its state only", async () => {
    const { client } = await connected();
    expect(JSON.stringify(client)).toBe('{"state":"connected"}');
    expect(Object.keys(client)).toEqual([]);
  });

  it("builds the socket synchronously inside connect() on the apiKey path", () => {
    const { client, server } = setup();
    void client.connect();
    expect(server.sockets).toHaveLength(1);
  });
});

describe("option errors", () => {
  it.each(["wss://example.com/?key=pk_live_secret", "ws://example.com/v1?token=pk_live_secret"])(
    "never echo a credential put in the url by mistake (%s)",
    (url) => {
      let err: unknown = null;
      try {
        make({ apiKey: "k", url });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).not.toContain("pk_live_secret");
    },
  );
});
