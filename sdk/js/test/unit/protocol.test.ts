import { describe, expect, it, vi } from "vitest";
import { Emitter } from "../../src/emitter.js";
import * as index from "../../src/index.js";
import { iceServersFrom, parseServerFrame, utf8Length } from "../../src/protocol.js";
import * as signalling from "../../src/signalling.js";

describe("parseServerFrame", () => {
  it("accepts the eight server frame types", () => {
    expect(parseServerFrame('{"type":"welcome","peerId":"a","expiresAt":null,"serverTime":1,"maxMessageSize":2,"metadata":{"k":1}}')).toEqual({
      type: "welcome",
      payload: { peerId: "a", expiresAt: null, serverTime: 1, maxMessageSize: 2, metadata: { k: 1 } },
    });
    expect(parseServerFrame('{"type":"ack","requestId":"r"}')).toEqual({ type: "ack", requestId: "r" });
    expect(parseServerFrame('{"type":"error","code":"c","message":"m","requestId":"r","x":1}')).toEqual({
      type: "error",
      payload: { code: "c", message: "m", requestId: "r" },
    });
    expect(parseServerFrame('{"type":"message","channel":"c","from":"f","data":null,"fromMetadata":[1]}')).toEqual({
      type: "message",
      payload: { channel: "c", from: "f", data: null },
    });
    expect(parseServerFrame('{"type":"direct","from":"f","data":{"a":1},"fromMetadata":{"n":1}}')).toEqual({
      type: "direct",
      payload: { from: "f", data: { a: 1 }, fromMetadata: { n: 1 } },
    });
    expect(parseServerFrame('{"type":"presence","channel":"c","joined":[{"peerId":"p","metadata":"x"}],"left":[{"peerId":"q"}]}')).toEqual({
      type: "presence",
      payload: { channel: "c", joined: [{ peerId: "p" }], left: [{ peerId: "q" }] },
    });
    expect(parseServerFrame('{"type":"going_away","retryAfterMs":0}')).toEqual({ type: "going_away", payload: { retryAfterMs: 1000 } });
    expect(parseServerFrame('{"type":"pong"}')).toEqual({ type: "pong" });
  });

  it.each([
    "",
    "null",
    '"welcome"',
    "[]",
    '{"type":1}',
    '{"type":"welcome","peerId":"a","serverTime":1,"maxMessageSize":2}',
    '{"type":"welcome","peerId":"a","expiresAt":"1","serverTime":1,"maxMessageSize":2}',
    '{"type":"welcome","peerId":1,"expiresAt":null,"serverTime":1,"maxMessageSize":2}',
    '{"type":"welcome","peerId":"a","expiresAt":null,"serverTime":"1","maxMessageSize":2}',
    '{"type":"welcome","peerId":"a","expiresAt":null,"serverTime":1}',
    '{"type":"ack","requestId":5}',
    '{"type":"error","message":"m"}',
    '{"type":"message","channel":"c","from":"f"}',
    '{"type":"message","channel":1,"from":"f","data":1}',
    '{"type":"direct","data":1}',
    '{"type":"presence","channel":"c","joined":[]}',
    '{"type":"presence","channel":"c","joined":[{}],"left":[]}',
    '{"type":"presence","joined":[],"left":[]}',
    '{"type":"subscribe","channel":"c"}',
  ])("drops %s", (raw) => {
    expect(parseServerFrame(raw)).toBeNull();
  });
});

describe("utf8Length", () => {
  it("matches TextEncoder, lone surrogates included", () => {
    const enc = new TextEncoder();
    for (const s of ["", "abc", "é", "€", "🎉", "a\ud800b", "\udc00", "\ud83c", "x🎉é€\u0000"]) {
      expect(utf8Length(s)).toBe(enc.encode(s).length);
    }
  });
});

describe("iceServersFrom", () => {
  it("needs an object metadata with an iceServers array", () => {
    expect(iceServersFrom(undefined)).toBeUndefined();
    expect(iceServersFrom({})).toBeUndefined();
    expect(iceServersFrom({ iceServers: {} })).toBeUndefined();
    expect(iceServersFrom({ iceServers: [] })).toEqual([]);
    expect(iceServersFrom({ iceServers: [null] })).toBeUndefined();
    expect(iceServersFrom({ iceServers: [{ urls: ["stun:a", 5] }] })).toBeUndefined();
    expect(iceServersFrom({ iceServers: [{ urls: "javascript:alert(1)" }] })).toBeUndefined();
    expect(iceServersFrom({ iceServers: [{ urls: "stuns:a", username: "u".repeat(1025) }] })).toBeUndefined();
    expect(iceServersFrom({ iceServers: [{ urls: "stun:" + "a".repeat(507) }] })).toEqual([{ urls: "stun:" + "a".repeat(507) }]);
  });
});

describe("Emitter", () => {
  it("dispatches over a snapshot in registration order and isolates throwing listeners", () => {
    const onError = vi.fn();
    const e = new Emitter<{ x: number }>(onError);
    const order: string[] = [];
    const late = () => order.push("late");
    e.on("x", () => {
      order.push("a");
      e.on("x", late);
    });
    e.on("x", () => {
      throw new Error("b");
    });
    e.on("x", () => order.push("c"));
    expect(e.emit("x", 1)).toBe(true);
    expect(order).toEqual(["a", "c"]);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "b" }), "x");
  });

  it("once removes itself before running; off matches once wrappers and only the first registration", () => {
    const e = new Emitter<{ x: number }>(() => {});
    const h = vi.fn(() => e.emit("x", 2));
    e.once("x", h);
    e.emit("x", 1);
    expect(h).toHaveBeenCalledTimes(1);
    const g = vi.fn();
    e.on("x", g);
    e.on("x", g);
    e.off("x", g);
    e.emit("x", 3);
    expect(g).toHaveBeenCalledTimes(1);
    e.off("x", g);
    expect(e.emit("x", 4)).toBe(false);
  });
});

describe("Emitter as the base of MeteredPeer, RemotePeer and DataChannel", () => {
  it("chains, counts, clears, and warns once when an event reaches 100 listeners", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const e = new Emitter<{ x: number; y: string }>();
    const h = () => {};
    expect(e.on("x", h).once("x", h).on("y", () => {})).toBe(e);
    expect(e.listenerCount("x")).toBe(2);
    expect(e.off("x", h).listenerCount("x")).toBe(1);
    for (let i = 0; i < 120; i++) e.on("x", () => {});
    expect(warn).toHaveBeenCalledTimes(1);
    expect(e.removeAllListeners().listenerCount("x")).toBe(0);
    expect(e.emit("y", "z")).toBe(false);
  });

  it("reports a throwing listener on console.error by default and goes on", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const e = new Emitter<{ x: number }>();
    const seen: number[] = [];
    e.on("x", () => {
      throw new Error("boom");
    });
    e.on("x", (v) => seen.push(v));
    e.emit("x", 1);
    expect(seen).toEqual([1]);
    expect(error).toHaveBeenCalledWith('[@parley/realtime] listener for "x" threw', expect.any(Error));
  });
});

describe("exports", () => {
  it("are the same runtime values from both entries; the full entry adds the WebRTC layer", () => {
    const names = ["ConsoleLogger", "NoopLogger", "OversizedPayloadError", "SignallingClient", "SignallingConnectError", "WsCloseCode", "WsCloseCodeValue"];
    const webrtc = ["DataChannel", "DataChannelOverflowError", "MeteredPeer", "MeteredPeerOversizedError", "MeteredPeerReplaceTrackError", "MeteredPeerSendError", "MeteredPeerStateError", "RemotePeer"];
    expect(Object.keys(signalling).sort()).toEqual(names);
    expect(Object.keys(index).sort()).toEqual([...names, ...webrtc].sort());
    for (const n of names) expect(index[n as keyof typeof index]).toBe(signalling[n as keyof typeof signalling]);
  });

  it("WsCloseCode is the documented plain object", () => {
    expect(index.WsCloseCode).toEqual({
      GoingAway: 1001,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      ClientInactivity: 4000,
      InvalidToken: 4001,
      TokenExpired: 4002,
      ChannelNotAuthorized: 4003,
      OverConcurrentLimit: 4010,
      OverMessageRate: 4011,
      AccountSuspended: 4012,
      AdminDisconnect: 4020,
    });
    expect(index.WsCloseCodeValue).toBe(index.WsCloseCode);
    expect(Object.isFrozen(index.WsCloseCode)).toBe(false);
  });

  it("error classes carry stable names and fields", () => {
    const c = new index.SignallingConnectError(4001, "invalid_key");
    expect(c).toBeInstanceOf(Error);
    expect([c.name, c.closeCode, c.closeReason, c.message]).toEqual([
      "SignallingConnectError",
      4001,
      "invalid_key",
      "signalling connection closed before welcome (closeCode=4001)",
    ]);
    const o = new index.OversizedPayloadError(70000, 65536);
    expect([o.name, o.size, o.cap]).toEqual(["OversizedPayloadError", 70000, 65536]);
    expect(o).toBeInstanceOf(Error);
  });
});
