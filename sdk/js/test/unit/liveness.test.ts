import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flush } from "../helpers/fake-server.js";
import { advance, connected, setup } from "../helpers/setup.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});
afterEach(() => {
  vi.useRealTimers();
});

describe("inactivity watchdog and keepalive", () => {
  it("pings after 20 s and 40 s of inbound silence, then closes 4000 at 60 s and reconnects", async () => {
    const { server, of } = await connected();
    server.autoPong = false;
    const ws = server.last;
    await advance(19999);
    expect(ws.framesOf("ping")).toHaveLength(0);
    await advance(1);
    expect(ws.sent.at(-1)).toBe('{"type":"ping"}');
    await advance(20000);
    expect(ws.framesOf("ping")).toHaveLength(2);
    await advance(19999);
    expect(ws.closeCalls).toEqual([]);
    await advance(1);
    expect(ws.closeCalls).toEqual([{ code: 4000, reason: "inactivity timeout" }]);
    expect(of("disconnected")).toEqual([{ code: 4000, reason: "inactivity timeout", willReconnect: true }]);
    await advance(500);
    expect(server.sockets).toHaveLength(2);
    expect(of("connected").at(-1)!.isReconnect).toBe(true);
  });

  it("any inbound text frame (a pong included) re-arms both timers", async () => {
    const { server, client } = await connected();
    const ws = server.last;
    // autoPong answers each ping, so the connection survives indefinitely.
    await advance(10 * 60000);
    expect(ws.closeCalls).toEqual([]);
    expect(client.state).toBe("connected");
    expect(ws.framesOf("ping").length).toBe(30);
    // A message at 15 s postpones the next ping to 35 s.
    server.autoPong = false;
    const before = ws.framesOf("ping").length;
    await advance(15000);
    ws.frame({ type: "message", channel: "c", from: "x", data: 1 });
    await advance(19999);
    expect(ws.framesOf("ping").length).toBe(before);
    await advance(1);
    expect(ws.framesOf("ping").length).toBe(before + 1);
  });

  it("outbound traffic and binary frames do not feed the watchdog", async () => {
    const { server, client } = await connected();
    server.autoPong = false;
    server.autoAck = false;
    const ws = server.last;
    for (let i = 0; i < 5; i++) {
      await advance(10000);
      void client.publish("c", i).catch(() => {});
      ws.emit("message", { data: new Uint8Array(4) });
    }
    await advance(10000);
    expect(ws.closeCalls).toEqual([{ code: 4000, reason: "inactivity timeout" }]);
  });

  it("scales with inactivityTimeoutMs: ping every max(1000, t/3)", async () => {
    const a = await connected({ inactivityTimeoutMs: 9000 });
    a.server.autoPong = false;
    await advance(2999);
    expect(a.server.last.framesOf("ping")).toHaveLength(0);
    await advance(1);
    expect(a.server.last.framesOf("ping")).toHaveLength(1);
    await advance(6000);
    expect(a.server.last.closeCalls).toEqual([{ code: 4000, reason: "inactivity timeout" }]);

    const b = await connected({ inactivityTimeoutMs: 1500 });
    b.server.autoPong = false;
    await advance(999);
    expect(b.server.last.framesOf("ping")).toHaveLength(0);
    await advance(1);
    expect(b.server.last.framesOf("ping")).toHaveLength(1);
  });

  it.each([0, -1, Infinity, -Infinity])("inactivityTimeoutMs %s disables watchdog and keepalive", async (inactivityTimeoutMs) => {
    const { server, client } = await connected({ inactivityTimeoutMs });
    await advance(60 * 60000);
    expect(server.last.sent).toEqual([]);
    expect(server.last.closeCalls).toEqual([]);
    expect(client.state).toBe("connected");
  });

  it("the watchdog runs before the welcome too (armed on open), with no ping", async () => {
    const { client, server } = setup({ inactivityTimeoutMs: 3000 });
    server.acceptAll = false;
    const p = client.connect();
    const caught = p.catch((e: unknown) => e);
    server.last.open();
    await advance(3000);
    expect(server.last.sent).toEqual([]);
    expect(server.last.closeCalls).toEqual([{ code: 4000, reason: "inactivity timeout" }]);
    expect(await caught).toMatchObject({ name: "SignallingConnectError", closeCode: 4000 });
  });

  it("a dead link whose close event never comes is still handled 1 s after the watchdog closes", async () => {
    const { server, client, of } = await connected();
    server.autoPong = false;
    server.echoClose = false;
    await advance(60000);
    expect(client.state).toBe("connected");
    await advance(1000);
    expect(of("disconnected")).toEqual([{ code: 4000, reason: "inactivity timeout", willReconnect: true }]);
    expect(client.state).toBe("reconnecting");
    server.echoClose = true;
    await advance(500);
    expect(client.state).toBe("connected");
    expect(server.sockets).toHaveLength(2);
  });

  it("stops pinging once closed", async () => {
    const { server, client } = await connected();
    await client.close();
    await flush();
    const n = server.last.sent.length;
    await advance(120000);
    expect(server.last.sent.length).toBe(n);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind after close() in any state", async () => {
    const a = await connected();
    await a.client.subscribe("x");
    a.server.last.serverClose(1006);
    expect(a.client.state).toBe("reconnecting");
    await a.client.close();
    expect(vi.getTimerCount()).toBe(0);

    const b = setup({ tokenProvider: () => new Promise<string>(() => {}) });
    void b.client.connect().catch(() => {});
    await flush();
    expect(vi.getTimerCount()).toBe(1); // the provider timeout
    await b.client.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
