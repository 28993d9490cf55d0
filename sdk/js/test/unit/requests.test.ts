import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OversizedPayloadError } from "../../src/errors.js";
import { flush, type Frame } from "../helpers/fake-server.js";
import { advance, connected, setup } from "../helpers/setup.js";

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5);
});
afterEach(() => {
  vi.useRealTimers();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("frames on the wire", () => {
  it("sends exactly the documented frames with fresh UUID requestIds", async () => {
    const { client, server } = await connected();
    await client.subscribe("room-1");
    await client.subscribe("room-2", { includeSenderMetadata: true });
    await client.subscribe("room-3", { includeSenderMetadata: false });
    await client.unsubscribe("room-1");
    await client.publish("room-2", { text: "hi", n: [1, 2] });
    await client.publish("room-2", null);
    await client.send("bob", { type: "rtc-ice", candidate: null });
    const frames = server.last.frames;
    const ids = frames.map((f) => f.requestId);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
    const strip = ({ requestId: _r, ...rest }: Frame) => rest;
    expect(frames.map(strip)).toEqual([
      { type: "subscribe", channel: "room-1" },
      { type: "subscribe", channel: "room-2", includeSenderMetadata: true },
      { type: "subscribe", channel: "room-3" },
      { type: "unsubscribe", channel: "room-1" },
      { type: "publish", channel: "room-2", data: { text: "hi", n: [1, 2] } },
      { type: "publish", channel: "room-2", data: null },
      { type: "send", to: "bob", data: { type: "rtc-ice", candidate: null } },
    ]);
    expect(server.last.sent[0]).toBe(`{"type":"subscribe","channel":"room-1","requestId":"${ids[0]}"}`);
  });

  it("falls back to a 22-char id without crypto.randomUUID", async () => {
    vi.stubGlobal("crypto", {});
    try {
      const { client, server } = await connected();
      await client.publish("c", 1);
      expect(server.last.frames[0]!.requestId).toMatch(/^[0-9a-z]{22}$/);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("ack correlation", () => {
  it("rejects with an Error named after the server code, unknown codes included", async () => {
    const { client, server } = await connected();
    server.onFrame = (ws, f) => {
      const code = f.type === "send" ? "peer_not_found" : "brand_new_code";
      ws.frame({ type: "error", requestId: f.requestId, code, ...(f.type === "send" ? { message: "no such peer" } : {}) });
      return true;
    };
    const e1 = (await client.send("bob", 1).catch((e: unknown) => e)) as Error;
    expect(e1).toBeInstanceOf(Error);
    expect(e1.name).toBe("peer_not_found");
    expect(e1.message).toBe("no such peer");
    const e2 = (await client.publish("c", 1).catch((e: unknown) => e)) as Error;
    expect([e2.name, e2.message]).toEqual(["brand_new_code", "brand_new_code"]);
  });

  it("an error for an unknown requestId is a server-error event", async () => {
    const { server, of } = await connected();
    server.last.frame({ type: "error", requestId: "nope", code: "internal_error", message: "x" });
    expect(of("server-error")).toEqual([{ requestId: "nope", code: "internal_error", message: "x" }]);
  });

  it("times out after 15 s without an ack; a late ack is ignored", async () => {
    const { client, server } = await connected();
    server.autoAck = false;
    const p = client.publish("c", 1);
    const caught = p.catch((e: unknown) => e);
    await advance(14999);
    let settled = false;
    void p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await flush();
    expect(settled).toBe(false);
    await advance(1);
    const err = (await caught) as Error;
    const id = server.last.frames[0]!.requestId!;
    expect(err.name).toBe("Error");
    expect(err.message).toBe(`ack timeout for requestId=${id} (no server ack within 15000ms)`);
    server.last.ack(id);
    expect(client.state).toBe("connected");
  });

  it("rejects every pending request with DisconnectedError when the socket drops", async () => {
    const { client, server } = await connected();
    server.autoAck = false;
    const ps = [client.publish("c", 1), client.send("p", 2), client.unsubscribe("c")];
    await flush();
    server.last.serverClose(1006, "gone");
    for (const p of ps) {
      const e = (await p.catch((x: unknown) => x)) as Error;
      expect(e.name).toBe("DisconnectedError");
      expect(e.message).toContain("code=1006");
    }
  });

  it("rejects with NotConnectedError in every state but connected (no queueing)", async () => {
    const { client, server } = setup();
    await expect(client.publish("c", 1)).rejects.toMatchObject({ name: "NotConnectedError" });
    server.acceptAll = false;
    void client.connect().catch(() => {});
    await expect(client.send("p", 1)).rejects.toMatchObject({ name: "NotConnectedError" });
    server.last.open();
    server.last.welcome();
    await flush();
    server.last.serverClose(1006);
    expect(client.state).toBe("reconnecting");
    await expect(client.subscribe("c")).rejects.toMatchObject({ name: "NotConnectedError" });
    await advance(500);
    server.last.open();
    server.last.welcome();
    await flush();
    expect(server.last.sent).toEqual([]); // nothing was queued
    await client.close();
    await expect(client.unsubscribe("c")).rejects.toMatchObject({ name: "NotConnectedError" });
  });
});

describe("argument validation", () => {
  it.each([
    ["empty", ""],
    ["257 chars", "x".repeat(257)],
    ["NUL", "a\u0000b"],
    ["newline", "a\nb"],
    ["DEL", "a\u007fb"],
    ["C1 control", "a\u0085b"],
    ["not a string", 42],
  ])("rejects a channel that is %s with TypeError, without remembering it", async (_n, channel) => {
    const { client, server } = await connected();
    for (const call of [
      () => client.subscribe(channel as string),
      () => client.unsubscribe(channel as string),
      () => client.publish(channel as string, 1),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(TypeError);
    }
    server.last.serverClose(1006);
    await advance(500);
    expect(server.last.framesOf("subscribe")).toEqual([]);
    expect(server.sockets[0]!.sent).toEqual([]);
  });

  it("accepts a 256-char channel and non-ASCII names", async () => {
    const { client } = await connected();
    await expect(client.subscribe("x".repeat(256))).resolves.toBeUndefined();
    await expect(client.publish("salle-é-🎉", 1)).resolves.toBeUndefined();
  });

  it.each([["", ""], ["129 chars", "p".repeat(129)], ["tab", "a\tb"], ["not a string", null]])(
    "rejects a peerId that is %s",
    async (_n, peer) => {
      const { client, server } = await connected();
      await expect(client.send(peer as string, 1)).rejects.toBeInstanceOf(TypeError);
      expect(server.last.sent).toEqual([]);
    },
  );

  it("rejects undefined data and non-serialisable data", async () => {
    const { client, server } = await connected();
    await expect(client.publish("c", undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(client.send("p", undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(client.publish("c", { big: 1n })).rejects.toBeInstanceOf(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(client.send("p", cyclic)).rejects.toBeInstanceOf(TypeError);
    expect(server.last.sent).toEqual([]);
  });
});

describe("OversizedPayloadError", () => {
  it("measures the UTF-8 JSON text of data against the welcome's maxMessageSize", async () => {
    const { client, server } = setup();
    server.welcomeExtra = { maxMessageSize: 100 };
    const p = client.connect();
    await flush();
    await p;
    // JSON text of a 98-char string is 100 bytes: at the cap, allowed.
    await expect(client.publish("c", "a".repeat(98))).resolves.toBeUndefined();
    const e = (await client.publish("c", "a".repeat(99)).catch((x: unknown) => x)) as OversizedPayloadError;
    expect(e).toBeInstanceOf(OversizedPayloadError);
    expect(e).toMatchObject({ name: "OversizedPayloadError", size: 101, cap: 100 });
    // "é" is 2 bytes, "🎉" 4; JSON.stringify escapes a lone surrogate as \udXXX (6 bytes).
    await expect(client.send("p", "é".repeat(49))).resolves.toBeUndefined(); // 98 + 2 quotes
    await expect(client.send("p", "é".repeat(50))).rejects.toMatchObject({ size: 102 });
    await expect(client.send("p", "🎉".repeat(25))).rejects.toMatchObject({ size: 102 });
    await expect(client.send("p", "\ud800".repeat(33))).rejects.toMatchObject({ size: 200 });
    expect(server.last.framesOf("send")).toHaveLength(1);
  });

  it("uses 65536 before any welcome and is checked before the connection state", async () => {
    const { client } = setup();
    await expect(client.publish("c", "x".repeat(65535))).rejects.toMatchObject({ name: "OversizedPayloadError", cap: 65536, size: 65537 });
    await expect(client.publish("c", "x".repeat(65534))).rejects.toMatchObject({ name: "NotConnectedError" });
  });
});

describe("subscriptions and auto-resubscribe", () => {
  it("replays remembered channels with their options after a reconnect, after the connected event", async () => {
    const { client, server, events } = await connected();
    await client.subscribe("a");
    await client.subscribe("b", { includeSenderMetadata: true });
    await client.subscribe("c");
    await client.unsubscribe("c");
    await client.subscribe("a", { includeSenderMetadata: true }); // replaces a's options
    let sentAtConnected = -1;
    client.on("connected", () => (sentAtConnected = server.last.sent.length));
    server.last.serverClose(1001, "going_away");
    await advance(500);
    expect(sentAtConnected).toBe(0);
    const replay = server.last.frames.map(({ requestId: _r, ...f }) => f);
    expect(replay).toEqual([
      { type: "subscribe", channel: "a", includeSenderMetadata: true },
      { type: "subscribe", channel: "b", includeSenderMetadata: true },
    ]);
    expect(events.at(-1)!.name).toBe("connected");
  });

  it("does not replay with autoResubscribe: false", async () => {
    const { client, server } = await connected({ autoResubscribe: false });
    await client.subscribe("a");
    server.last.serverClose(1006);
    await advance(500);
    expect(server.last.sent).toEqual([]);
  });

  it("forgets a subscribe that failed with NotConnectedError or a server rejection, keeps one cut by a drop", async () => {
    const { client, server } = await connected();
    server.onFrame = (ws, f) => {
      if (f.channel === "denied") {
        ws.frame({ type: "error", requestId: f.requestId, code: "channel_not_authorized", message: "no" });
        return true;
      }
      if (f.channel === "cut") {
        queueMicrotask(() => ws.serverClose(1006));
        return true;
      }
      return false;
    };
    await client.subscribe("kept");
    await expect(client.subscribe("denied")).rejects.toMatchObject({ name: "channel_not_authorized" });
    await expect(client.subscribe("cut")).rejects.toMatchObject({ name: "DisconnectedError" });
    await expect(client.subscribe("never")).rejects.toMatchObject({ name: "NotConnectedError" });
    server.onFrame = null;
    await advance(500);
    expect(server.last.framesOf("subscribe").map((f) => f.channel)).toEqual(["kept", "cut"]);
  });

  it("a failed re-subscribe of a remembered channel keeps it", async () => {
    const { client, server } = await connected();
    await client.subscribe("a");
    server.onFrame = (ws, f) => {
      ws.frame({ type: "error", requestId: f.requestId, code: "internal_error", message: "x" });
      return true;
    };
    await expect(client.subscribe("a", { includeSenderMetadata: true })).rejects.toMatchObject({ name: "internal_error" });
    server.onFrame = null;
    server.last.serverClose(1006);
    await advance(500);
    expect(server.last.framesOf("subscribe")).toHaveLength(1);
  });

  it("retries a rejected replay 3 times, 2 s apart, per connection", async () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const { client, server } = await connected({ logger });
    await client.subscribe("flaky");
    await client.subscribe("fine");
    server.onFrame = (ws, f) => {
      if (f.type === "subscribe" && f.channel === "flaky") {
        ws.frame({ type: "error", requestId: f.requestId, code: "backend_error", message: "x" });
        return true;
      }
      return false;
    };
    server.last.serverClose(1006);
    await advance(500);
    const ws = server.last;
    const flaky = () => ws.framesOf("subscribe").filter((f) => f.channel === "flaky").length;
    expect(flaky()).toBe(1);
    await advance(1999);
    expect(flaky()).toBe(1);
    await advance(1);
    expect(flaky()).toBe(2);
    await advance(4000);
    expect(flaky()).toBe(4);
    await advance(60000);
    expect(flaky()).toBe(4);
    expect(ws.framesOf("subscribe").filter((f) => f.channel === "fine")).toHaveLength(1);
    expect(logger.warn).toHaveBeenCalledWith("resubscribe failed", expect.objectContaining({ channel: "flaky" }));
    // Still remembered: the next connection replays it with a fresh budget.
    server.onFrame = null;
    ws.serverClose(1006);
    await advance(500);
    expect(server.last.framesOf("subscribe").map((f) => f.channel)).toEqual(["flaky", "fine"]);
  });

  it("retries an unacked replay after the ack timeout", async () => {
    const { client, server } = await connected();
    await client.subscribe("a");
    server.autoAck = false;
    server.last.serverClose(1006);
    await advance(500);
    const ws = server.last;
    expect(ws.framesOf("subscribe")).toHaveLength(1);
    await advance(15000 + 2000);
    expect(ws.framesOf("subscribe")).toHaveLength(2);
  });

  it("does not carry a pending replay retry into the next connection", async () => {
    const { client, server } = await connected();
    await client.subscribe("a");
    server.onFrame = (ws, f) => {
      ws.frame({ type: "error", requestId: f.requestId, code: "backend_error", message: "x" });
      return true;
    };
    server.last.serverClose(1006);
    await advance(500);
    const second = server.last;
    second.serverClose(1006); // drop while a retry is pending
    server.onFrame = null;
    await advance(1000);
    const third = server.last;
    expect(third).not.toBe(second);
    await advance(10000);
    expect(third.framesOf("subscribe")).toHaveLength(1);
    expect(second.framesOf("subscribe")).toHaveLength(1);
  });
});
