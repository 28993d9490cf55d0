import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flush, type FakeServer } from "../helpers/fake-server.js";
import { advance, connected, setup } from "../helpers/setup.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Measures the delay before the next connection attempt: the socket count must not grow before
 * `expected` ms and must grow exactly at `expected`.
 */
async function expectNextAttemptAfter(server: FakeServer, expected: number): Promise<void> {
  const n = server.sockets.length;
  if (expected > 0) {
    await advance(expected - 1);
    expect(server.sockets.length, `no attempt before ${expected} ms`).toBe(n);
  }
  await advance(expected > 0 ? 1 : 0);
  expect(server.sockets.length, `an attempt at ${expected} ms`).toBe(n + 1);
}

/** Makes every new socket fail before welcome with `code`. */
function refuseWith(server: FakeServer, code: number): void {
  server.refuse = code;
}

describe("backoff", () => {
  it("follows 500 ms × 2 up to 30 s with no jitter at random()=0.5", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, client, of } = await connected();
    refuseWith(server, 1006);
    server.last.serverClose(1006);
    await flush();
    for (const d of [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]) {
      await expectNextAttemptAfter(server, d);
      await flush();
    }
    expect(client.state).toBe("reconnecting");
    expect(of("disconnected").every((d) => d.willReconnect)).toBe(true);
  });

  it("stays within ±20 % jitter, floor of the bounds", async () => {
    const random = vi.spyOn(Math, "random");
    random.mockReturnValue(0);
    const a = await connected();
    refuseWith(a.server, 1006);
    a.server.last.serverClose(1006);
    await flush();
    for (const d of [400, 800, 1600, 3200, 6400, 12800, 24000, 24000]) await expectNextAttemptAfter(a.server, d);

    random.mockReturnValue(0.9999999);
    const b = await connected();
    refuseWith(b.server, 1006);
    b.server.last.serverClose(1006);
    await flush();
    for (const d of [599, 1199, 2399, 4799, 9599, 19199, 35999, 35999]) await expectNextAttemptAfter(b.server, d);
  });

  it("draws every delay inside [0.8, 1.2] × base for random draws", async () => {
    const draws = [0.13, 0.77, 0.5, 0.01, 0.99, 0.42];
    let i = 0;
    vi.spyOn(Math, "random").mockImplementation(() => draws[i++ % draws.length]!);
    const { server } = await connected();
    refuseWith(server, 1006);
    server.last.serverClose(1006);
    await flush();
    const bases = [500, 1000, 2000, 4000, 8000, 16000];
    for (const [k, base] of bases.entries()) {
      const expected = Math.floor(base + base * 0.2 * (draws[k]! * 2 - 1));
      expect(expected).toBeGreaterThanOrEqual(base * 0.8);
      expect(expected).toBeLessThanOrEqual(base * 1.2);
      await expectNextAttemptAfter(server, expected);
    }
  });

  it("uses custom knobs and resets the attempt counter on welcome", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, of } = await connected({ reconnect: { initialDelayMs: 100, multiplier: 3, maxDelayMs: 1000, jitterRatio: 0.5 } });
    server.acceptAll = false;
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 100);
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 300);
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 900);
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 1000);
    server.last.open();
    server.last.welcome();
    expect(of("connected").map((c) => c.isReconnect)).toEqual([false, true]);
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 100);
  });

  it("gives up after maxAttempts with a final disconnected and state closed", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, client, of } = await connected({ reconnect: { maxAttempts: 3, initialDelayMs: 10 } });
    refuseWith(server, 1006);
    server.last.serverClose(1006);
    await advance(60000);
    expect(server.sockets).toHaveLength(4);
    expect(of("disconnected").map((d) => d.willReconnect)).toEqual([true, true, true, false]);
    expect(client.state).toBe("closed");
    await advance(600000);
    expect(server.sockets).toHaveLength(4);
  });

  it("makes exactly 100 attempts by default, in about 47-50 minutes", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, client, of } = await connected();
    refuseWith(server, 1006);
    server.last.serverClose(1006);
    const start = Date.now();
    let lastAttemptAt = start;
    for (let i = 0; i < 200 && client.state !== "closed"; i++) {
      const n = server.sockets.length;
      await advance(30000);
      if (server.sockets.length > n) lastAttemptAt = Date.now();
    }
    expect(client.state).toBe("closed");
    expect(server.sockets).toHaveLength(101);
    const minutes = (lastAttemptAt - start) / 60000;
    expect(minutes).toBeGreaterThan(46);
    expect(minutes).toBeLessThan(50);
    expect(of("disconnected").filter((d) => !d.willReconnect)).toHaveLength(1);
  });

  it("retries forever with maxAttempts Infinity", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, client } = await connected({ reconnect: { maxAttempts: Infinity, maxDelayMs: 1000 } });
    refuseWith(server, 1006);
    server.last.serverClose(1006);
    await advance(200 * 1000);
    expect(server.sockets.length).toBeGreaterThan(150);
    expect(client.state).toBe("reconnecting");
  });

  it("never reconnects with reconnect: false", async () => {
    const { server, client, of } = await connected({ reconnect: false });
    server.last.serverClose(1006);
    await advance(120000);
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");
    expect(of("disconnected")).toEqual([{ code: 1006, reason: "", willReconnect: false }]);
  });
});

describe("close-code policy", () => {
  it.each([4001, 4003, 4012, 4020])("%i is terminal", async (code) => {
    const { server, client, of } = await connected();
    server.last.serverClose(code, "r");
    await advance(600000);
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");
    expect(of("disconnected")).toEqual([{ code, reason: "r", willReconnect: false }]);
  });

  it.each([1000, 1001, 1006, 1008, 1009, 1011, 4000, 4002, 4011])("%i reconnects with normal backoff", async (code) => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, of, states } = await connected();
    server.last.serverClose(code);
    expect(of("disconnected")).toEqual([{ code, reason: "", willReconnect: true }]);
    await expectNextAttemptAfter(server, 500);
    await flush();
    expect(states().slice(-2)).toEqual(["reconnecting", "connected"]);
    expect(of("connected").at(-1)!.isReconnect).toBe(true);
  });

  it("a terminal code on a reconnect attempt stops the retries", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, client, of } = await connected();
    server.acceptAll = false;
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 500);
    server.last.serverClose(4001, "invalid_key");
    await advance(600000);
    expect(server.sockets).toHaveLength(2);
    expect(client.state).toBe("closed");
    expect(of("disconnected").at(-1)).toEqual({ code: 4001, reason: "invalid_key", willReconnect: false });
  });

  it("4010 waits at least 30 s (±20 %) once, then the curve resumes", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server } = await connected();
    server.acceptAll = false;
    server.last.serverClose(4010, "over_connection_limit");
    await expectNextAttemptAfter(server, 30000);
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 1000);
    random.mockReturnValue(0);
    server.last.serverClose(4010);
    await expectNextAttemptAfter(server, 24000);
    random.mockReturnValue(0.9999999);
    server.last.serverClose(4010);
    await expectNextAttemptAfter(server, 35999);
  });

  it("4010 on the first connect does not slow a later, unrelated reconnect", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { client, server } = setup();
    server.acceptAll = false;
    const p = client.connect();
    server.last.serverClose(4010);
    await expect(p).rejects.toMatchObject({ closeCode: 4010 });
    server.acceptAll = true;
    const p2 = client.connect();
    await flush();
    await p2;
    server.last.serverClose(1006);
    await expectNextAttemptAfter(server, 500);
  });

  it("a throwing factory during reconnect counts as a failed attempt", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const { server, of, client } = await connected({ reconnect: { maxAttempts: 2 } });
    server.factoryError = new Error("nope");
    server.last.serverClose(1006);
    await advance(2000);
    expect(of("disconnected")).toEqual([
      { code: 1006, reason: "", willReconnect: true },
      { code: 1006, reason: "websocket construction failed", willReconnect: true },
      { code: 1006, reason: "websocket construction failed", willReconnect: false },
    ]);
    expect(client.state).toBe("closed");
  });
});

describe("tokenProvider", () => {
  it("is called before every attempt, including after 4002", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    let n = 0;
    const tokenProvider = vi.fn(async () => `tok${++n}`);
    const { server, of } = await connected({ tokenProvider });
    expect(tokenProvider).toHaveBeenCalledTimes(1);
    server.last.serverClose(4002, "token_expired");
    await advance(500);
    expect(tokenProvider).toHaveBeenCalledTimes(2);
    expect(server.last.url).toBe("ws://localhost:8080/v1?token=tok2");
    expect(of("connected").map((c) => c.isReconnect)).toEqual([false, true]);
  });

  it("a failing or timed-out first call rejects connect() and closes", async () => {
    const a = setup({ tokenProvider: () => Promise.reject(new Error("mint failed: https://x/?token=abc")) });
    const err = (await a.client.connect().catch((e: unknown) => e)) as Error;
    expect(err.message).toBe("mint failed: https://x/?token=***");
    expect(a.client.state).toBe("closed");
    expect(a.server.sockets).toHaveLength(0);
    expect(a.of("disconnected")).toEqual([]);

    let late: (t: string) => void = () => {};
    const b = setup({ tokenProvider: () => new Promise<string>((r) => (late = r)), tokenProviderTimeoutMs: 2500 });
    const p = b.client.connect();
    const caught = p.catch((e: unknown) => e);
    await advance(2499);
    expect(b.client.state).toBe("connecting");
    await advance(1);
    expect(((await caught) as Error).message).toBe("tokenProvider did not resolve within 2500ms");
    expect(b.client.state).toBe("closed");
    late("too-late");
    await flush();
    expect(b.server.sockets).toHaveLength(0);
  });

  it("treats an empty or non-string token as a failure", async () => {
    for (const bad of ["", 42, undefined]) {
      const t = setup({ tokenProvider: async () => bad as unknown as string });
      await expect(t.client.connect()).rejects.toThrow(/empty token/);
      expect(t.server.sockets).toHaveLength(0);
    }
  });

  it("emits token-provider-error from the 3rd consecutive failure on, without disconnected, and keeps retrying", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    let fail = false;
    const tokenProvider = vi.fn(async () => {
      if (fail) throw new Error("down");
      return "tok";
    });
    const { server, of, client } = await connected({ tokenProvider });
    fail = true;
    server.last.serverClose(1006);
    expect(of("disconnected")).toHaveLength(1);
    await advance(500 + 1000 + 2000 + 4000);
    expect(tokenProvider).toHaveBeenCalledTimes(5);
    expect(of("token-provider-error").map((e) => e.consecutiveFailures)).toEqual([3, 4]);
    expect(of("token-provider-error")[0]!.err).toBeInstanceOf(Error);
    expect(of("token-provider-error")[0]!.err.message).toBe("down");
    expect(of("disconnected")).toHaveLength(1);
    expect(client.state).toBe("reconnecting");
    expect(server.sockets).toHaveLength(1);
    fail = false;
    await advance(8000);
    expect(client.state).toBe("connected");
    // A success resets the counter.
    fail = true;
    server.last.serverClose(1006);
    await advance(500 + 1000);
    expect(of("token-provider-error")).toHaveLength(2);
  });

  it("times out a hanging provider during reconnect and moves on", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    let hang = false;
    const tokenProvider = vi.fn(() => (hang ? new Promise<string>(() => {}) : Promise.resolve("tok")));
    const { server, client } = await connected({ tokenProvider, tokenProviderTimeoutMs: 1000 });
    hang = true;
    server.last.serverClose(1006);
    await advance(500 + 1000); // attempt 1 times out
    expect(tokenProvider).toHaveBeenCalledTimes(2);
    hang = false;
    await advance(1000); // attempt 2
    expect(tokenProvider).toHaveBeenCalledTimes(3);
    expect(client.state).toBe("connected");
  });

  it("when the provider exhausts the attempts, emits a final disconnected and closes (official SDK bug not reproduced)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    let fail = false;
    const tokenProvider = vi.fn(async () => {
      if (fail) throw new Error("down");
      return "tok";
    });
    const { server, of, client } = await connected({ tokenProvider, reconnect: { maxAttempts: 4, initialDelayMs: 10 } });
    fail = true;
    server.last.serverClose(1006);
    await advance(10000);
    expect(tokenProvider).toHaveBeenCalledTimes(5);
    expect(of("disconnected")).toEqual([
      { code: 1006, reason: "", willReconnect: true },
      { code: 1006, reason: "token provider failed", willReconnect: false },
    ]);
    expect(client.state).toBe("closed");
    expect(of("token-provider-error").map((e) => e.consecutiveFailures)).toEqual([3, 4]);
    await advance(600000);
    expect(tokenProvider).toHaveBeenCalledTimes(5);
  });

  it("close() while the provider is pending builds no socket and rejects connect()", async () => {
    let resolve: (t: string) => void = () => {};
    const { client, server } = setup({ tokenProvider: () => new Promise<string>((r) => (resolve = r)) });
    const p = client.connect();
    await flush();
    await client.close();
    expect(client.state).toBe("closed");
    resolve("tok");
    await expect(p).rejects.toThrow(/closed before the connection was established/);
    await advance(20000);
    expect(server.sockets).toHaveLength(0);
    expect(client.state).toBe("closed");
  });

  it("connect → close → connect during token resolution: the older attempt is superseded, one socket", async () => {
    const resolvers: ((t: string) => void)[] = [];
    const { client, server } = setup({ tokenProvider: () => new Promise<string>((r) => resolvers.push(r)) });
    const first = client.connect();
    await flush();
    void client.close();
    const second = client.connect();
    await flush();
    expect(resolvers).toHaveLength(2);
    resolvers[1]!("new");
    resolvers[0]!("old");
    await flush();
    await expect(first).rejects.toThrow();
    await second;
    expect(server.sockets).toHaveLength(1);
    expect(server.last.url).toContain("token=new");
    expect(client.state).toBe("connected");
  });

  it("close() during the reconnect wait cancels it", async () => {
    const tokenProvider = vi.fn(async () => "tok");
    const { client, server } = await connected({ tokenProvider });
    server.last.serverClose(1006);
    expect(client.state).toBe("reconnecting");
    await client.close();
    await advance(600000);
    expect(tokenProvider).toHaveBeenCalledTimes(1);
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");
  });
});
