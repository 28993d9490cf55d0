import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SignallingConnectError } from "../../src/errors.js";
import { ConsoleLogger } from "../../src/logger.js";
import { SignallingClient } from "../../src/signalling-client.js";
import type { Logger } from "../../src/types.js";
import { CLOSING, FakeServer, flush } from "../helpers/fake-server.js";
import { advance, connected, setup } from "../helpers/setup.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connect()", () => {
  it("goes idle → connecting → connected and reports the welcome", async () => {
    const { client, server, of, states } = setup();
    server.welcomeExtra = { expiresAt: 1700003600, maxMessageSize: 1000, serverTime: 1700000001 };
    expect(client.state).toBe("idle");
    const p = client.connect();
    expect(client.state).toBe("connecting");
    await flush();
    await expect(p).resolves.toBeUndefined();
    expect(client.state).toBe("connected");
    expect(states()).toEqual(["connecting", "connected"]);
    expect(of("state-change")[0]).toEqual({ from: "idle", to: "connecting" });
    expect(of("connected")).toEqual([
      { peerId: "peer-1", serverTime: 1700000001, expiresAt: 1700003600, isReconnect: false, maxMessageSize: 1000 },
    ]);
  });

  it("surfaces valid iceServers and drops an invalid list entirely", async () => {
    const good = [
      { urls: ["stun:turn.example.com:3478"] },
      { urls: "turns:turn.example.com:5349", username: "u", credential: "c", credentialType: "password" },
      { urls: "TURN:x", username: 5 },
    ];
    const a = setup();
    a.server.welcomeExtra = { metadata: { iceServers: good, other: 1 } };
    const pa = a.client.connect();
    await flush();
    await pa;
    expect(a.of("connected")[0]!.iceServers).toEqual([
      { urls: ["stun:turn.example.com:3478"] },
      { urls: "turns:turn.example.com:5349", username: "u", credential: "c" },
      { urls: "TURN:x" },
    ]);

    for (const bad of [
      [...good, { urls: "http://evil" }],
      [{ urls: [] }],
      [{ urls: "stun:" + "x".repeat(600) }],
      [{ urls: "stun:x", credential: "c".repeat(1025) }],
      Array.from({ length: 17 }, () => ({ urls: "stun:x" })),
      "stun:x",
    ]) {
      const b = setup();
      b.server.welcomeExtra = { metadata: { iceServers: bad } };
      const pb = b.client.connect();
      await flush();
      await pb;
      expect("iceServers" in b.of("connected")[0]!).toBe(false);
    }
  });

  it("rejects when called in a state other than idle or closed", async () => {
    const { client } = await connected();
    await expect(client.connect()).rejects.toThrow(/invalid state 'connected'/);
  });

  it("rejects with SignallingConnectError when the socket closes before welcome, and never retries", async () => {
    const { client, server, of } = setup();
    server.acceptAll = false;
    const p = client.connect();
    server.last.open();
    server.last.serverClose(4001, "invalid_key <script>");
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignallingConnectError);
    expect(err).toMatchObject({ name: "SignallingConnectError", closeCode: 4001, closeReason: "invalid_key <script>" });
    expect((err as Error).message).not.toContain("invalid_key");
    expect(client.state).toBe("closed");
    expect(of("disconnected")).toEqual([{ code: 4001, reason: "invalid_key <script>", willReconnect: false }]);
    await advance(120000);
    expect(server.sockets).toHaveLength(1);
  });

  it("does not retry a first attempt that failed with a retryable code either", async () => {
    const { client, server } = setup();
    server.acceptAll = false;
    const p = client.connect();
    server.last.serverClose(1006);
    await expect(p).rejects.toMatchObject({ closeCode: 1006 });
    await advance(120000);
    expect(server.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");
  });

  it("times out after 10 s without a welcome and closes the socket with 4000", async () => {
    const { client, server, of } = setup();
    server.acceptAll = false;
    const p = client.connect();
    const caught = p.catch((e: unknown) => e);
    server.last.open();
    server.last.frame({ type: "welcome", peerId: "x", serverTime: 1, maxMessageSize: 1 }); // no expiresAt: dropped
    await advance(9999);
    expect(client.state).toBe("connecting");
    await advance(1);
    const err = (await caught) as Error;
    expect(err.message).toBe("no welcome frame within 10000ms");
    expect(server.last.closeCalls).toEqual([{ code: 4000, reason: "welcome timeout" }]);
    expect(client.state).toBe("closed");
    expect(of("disconnected")).toEqual([{ code: 4000, reason: "welcome timeout", willReconnect: false }]);
    // A late welcome does not flip the failed connect.
    server.last.welcome();
    expect(client.state).toBe("closed");
  });

  it("treats a throwing factory as a disconnect and scrubs the credential from the error", async () => {
    const { client, server, of } = setup();
    server.factoryError = new Error("blocked by CSP: ws://localhost:8080/v1?key=pk_live_secret&x=1");
    const err = (await client.connect().catch((e: unknown) => e)) as Error;
    expect(err.message).toBe("blocked by CSP: ws://localhost:8080/v1?key=***&x=1");
    expect(err.stack).not.toContain("pk_live_secret");
    expect(of("disconnected")).toEqual([{ code: 1006, reason: "websocket construction failed", willReconnect: false }]);
    expect(client.state).toBe("closed");
  });

  it("can connect again after a failed first attempt", async () => {
    const { client, server } = setup();
    server.acceptAll = false;
    const p = client.connect();
    server.last.serverClose(1006);
    await expect(p).rejects.toBeInstanceOf(SignallingConnectError);
    server.acceptAll = true;
    const p2 = client.connect();
    await flush();
    await p2;
    expect(client.state).toBe("connected");
  });

  it("ignores a second welcome", async () => {
    const { server, of } = await connected();
    server.last.welcome({ peerId: "other" });
    expect(of("connected")).toHaveLength(1);
  });
});

describe("close()", () => {
  it("goes closed at once, closes 1000 and reports disconnected once the socket closed", async () => {
    const { client, server, of, states } = await connected();
    const p = client.close();
    expect(client.state).toBe("closed");
    expect(server.last.closeCalls).toEqual([{ code: 1000, reason: "client requested close" }]);
    expect(of("disconnected")).toEqual([]);
    await flush();
    await p;
    expect(of("disconnected")).toEqual([{ code: 1000, reason: "client requested close", willReconnect: false }]);
    expect(states()).toEqual(["connecting", "connected", "closed"]);
    await advance(120000);
    expect(server.sockets).toHaveLength(1);
  });

  it("resolves after 1000 ms when the close event never comes, and still reports the disconnect", async () => {
    const { client, server, of } = await connected();
    server.echoClose = false;
    let done = false;
    void client.close(4321, "bye").then(() => (done = true));
    await advance(999);
    expect(done).toBe(false);
    await advance(1);
    expect(done).toBe(true);
    expect(of("disconnected")).toEqual([{ code: 4321, reason: "bye", willReconnect: false }]);
    // A late close event changes nothing.
    server.last.serverClose(1006);
    expect(of("disconnected")).toHaveLength(1);
  });

  it("rejects requests in flight with DisconnectedError", async () => {
    const { client, server } = await connected();
    server.autoAck = false;
    const p = client.publish("room", 1);
    await flush();
    void client.close();
    await expect(p).rejects.toMatchObject({ name: "DisconnectedError" });
  });

  it("during connecting rejects connect() with SignallingConnectError", async () => {
    const { client, server } = setup();
    server.acceptAll = false;
    const p = client.connect();
    void client.close();
    await expect(p).rejects.toMatchObject({ name: "SignallingConnectError", closeCode: 1000 });
    expect(client.state).toBe("closed");
  });

  it("close() then connect() before the old close event: one new socket, old events ignored", async () => {
    const { client, server, of } = await connected();
    server.echoClose = false;
    const old = server.last;
    void client.close();
    const p = client.connect();
    await flush();
    await p;
    expect(server.sockets).toHaveLength(2);
    old.serverClose(1000);
    old.frame({ type: "message", channel: "c", from: "x", data: 1 });
    expect(of("disconnected")).toEqual([]);
    expect(of("message")).toEqual([]);
    expect(client.state).toBe("connected");
    expect(of("connected").map((c) => c.isReconnect)).toEqual([false, false]);
  });

  it("is safe from idle and twice", async () => {
    const { client, of } = setup();
    await client.close();
    expect(client.state).toBe("closed");
    await client.close();
    expect(of("state-change")).toEqual([{ from: "idle", to: "closed" }]);
  });

  it("from a disconnected handler stops reconnection", async () => {
    const { client, server } = await connected();
    client.on("disconnected", () => void client.close());
    server.last.serverClose(1006);
    await advance(120000);
    expect(client.state).toBe("closed");
    expect(server.sockets).toHaveLength(1);
  });

  it("drops events that arrive after close()", async () => {
    const { client, server, of } = await connected();
    server.echoClose = false;
    const ws = server.last;
    void client.close();
    ws.frame({ type: "message", channel: "c", from: "x", data: 1 });
    expect(of("message")).toEqual([]);
  });
});

describe("events", () => {
  it("once() fires once; off() removes on and once registrations", async () => {
    const { client, server } = await connected();
    const seen: unknown[] = [];
    const h = (m: unknown) => seen.push(m);
    client.once("message", h);
    const msg = { type: "message", channel: "c", from: "x", data: 1 };
    server.last.frame(msg);
    server.last.frame(msg);
    expect(seen).toHaveLength(1);
    client.once("message", h);
    client.off("message", h);
    client.on("message", h);
    client.on("message", h);
    client.off("message", h);
    server.last.frame(msg);
    expect(seen).toHaveLength(2);
    expect(client.on("direct", h)).toBe(client);
    expect(client.off("direct", h)).toBe(client);
    expect(client.once("direct", h)).toBe(client);
  });

  it("a throwing listener goes to logger.error and the others still run", async () => {
    const logger: Logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const { client, server } = await connected({ logger });
    const boom = new Error("boom");
    const after = vi.fn();
    client.on("direct", () => {
      throw boom;
    });
    client.on("direct", after);
    server.last.frame({ type: "direct", from: "x", data: null });
    expect(after).toHaveBeenCalledWith({ from: "x", data: null });
    expect(logger.error).toHaveBeenCalledWith("listener threw", { event: "direct", err: boom });
  });

  it("emits message, direct, presence, going-away and server-error", async () => {
    const { server, of } = await connected();
    const ws = server.last;
    ws.frame({ type: "message", channel: "c", from: "a", data: { x: 1 }, fromMetadata: { n: "A" } });
    ws.frame({ type: "direct", from: "a", data: "hi" });
    ws.frame({ type: "presence", channel: "c", joined: [{ peerId: "b", metadata: { n: "B" } }, { peerId: "c" }], left: [] });
    ws.frame({ type: "going_away", retryAfterMs: 1500 });
    ws.frame({ type: "going_away" });
    ws.frame({ type: "error", code: "over_message_quota", message: "quota" });
    ws.frame({ type: "error", code: "brand_new_code" });
    ws.frame({ type: "error", code: "unknown_type", message: "unknown type" }); // swallowed
    expect(of("message")).toEqual([{ channel: "c", from: "a", data: { x: 1 }, fromMetadata: { n: "A" } }]);
    expect(of("direct")).toEqual([{ from: "a", data: "hi" }]);
    expect(of("presence")).toEqual([{ channel: "c", joined: [{ peerId: "b", metadata: { n: "B" } }, { peerId: "c" }], left: [] }]);
    expect(of("going-away")).toEqual([{ retryAfterMs: 1500 }, { retryAfterMs: 1000 }]);
    expect(of("server-error")).toEqual([{ code: "over_message_quota", message: "quota" }, { code: "brand_new_code" }]);
  });

  it("drops malformed, unknown and binary frames; closes 1009 on a frame over 1 MiB", async () => {
    const logger: Logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const { client, server, events } = await connected({ logger });
    const n = events.length;
    const ws = server.last;
    ws.frame("not json");
    ws.frame("[1,2]");
    ws.frame({ type: "message", channel: "c", from: "a" }); // no data key
    ws.frame({ type: "direct", data: 1 }); // no from
    ws.frame({ type: "presence", channel: "c", joined: [{ peerId: 1 }], left: [] });
    ws.frame({ type: "presence", channel: "c", joined: [] });
    ws.frame({ type: "error", code: "" });
    ws.frame({ type: "ack" });
    ws.frame({ type: "brand_new_frame" });
    ws.emit("message", { data: new ArrayBuffer(8) });
    expect(events.length).toBe(n);
    expect(logger.warn).toHaveBeenCalled();
    ws.frame("x".repeat(1048576)); // at the cap: parsed (and dropped as malformed), not closed
    expect(ws.closeCalls).toEqual([]);
    ws.frame("x".repeat(1048577));
    expect(ws.closeCalls).toEqual([{ code: 1009, reason: "frame exceeded client cap" }]);
    await flush();
    expect(client.state).toBe("reconnecting");
  });
});

describe("loggers", () => {
  it("ConsoleLogger prefixes and forwards by level", () => {
    const spy = vi.spyOn(console, "warn").mockImplementation(() => {});
    ConsoleLogger.warn("hello", { a: 1 });
    ConsoleLogger.warn("bare");
    expect(spy.mock.calls).toEqual([
      ["[@parley/realtime]", "hello", { a: 1 }],
      ["[@parley/realtime]", "bare", ""],
    ]);
  });

  it("the default logger stays silent", async () => {
    const spies = (["debug", "info", "warn", "error", "log"] as const).map((l) => vi.spyOn(console, l));
    const server = new FakeServer();
    const c = new SignallingClient({ apiKey: "k", url: "ws://localhost:1", webSocketFactory: server.factory });
    const p = c.connect();
    await flush();
    await p;
    server.last.frame("garbage");
    server.last.serverClose(1006);
    await advance(1000);
    await c.close();
    for (const s of spies) expect(s).not.toHaveBeenCalled();
    expect(server.sockets[0]!.readyState).not.toBe(CLOSING);
  });
});
