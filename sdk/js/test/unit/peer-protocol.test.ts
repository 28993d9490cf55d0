import { describe, expect, it } from "vitest";
import { scrubRtcError } from "../../src/errors.js";
import {
  descriptionPayload,
  icePayload,
  isRtcSignal,
  msidTrackId,
  sessionId,
  trackMetaOf,
  trackMetaPayload,
} from "../../src/peer-protocol.js";

describe("signalling payloads (byte-compatible with the official SDK)", () => {
  it("descriptions carry only type and sdp", () => {
    const local = { type: "offer" as const, sdp: "v=0\r\n", toJSON: () => ({}) } as unknown as RTCSessionDescription;
    expect(JSON.stringify(descriptionPayload(local))).toBe('{"type":"rtc-description","description":{"type":"offer","sdp":"v=0\\r\\n"}}');
    expect(JSON.stringify(descriptionPayload({ type: "answer", sdp: "x" }))).toBe('{"type":"rtc-description","description":{"type":"answer","sdp":"x"}}');
  });

  it("candidates are toJSON(), or the four keys with nulls; the end is null", () => {
    const init = { candidate: "candidate:1 1 udp 1 1.2.3.4 5 typ host", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "uf" };
    expect(JSON.stringify(icePayload({ ...init, toJSON: () => init }))).toBe(
      '{"type":"rtc-ice","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"uf"}}',
    );
    expect(icePayload({ candidate: "c" })).toEqual({
      type: "rtc-ice",
      candidate: { candidate: "c", sdpMid: null, sdpMLineIndex: null, usernameFragment: null },
    });
    expect(JSON.stringify(icePayload(null))).toBe('{"type":"rtc-ice","candidate":null}');
  });

  it("track metadata: set with metadata, clear without the key", () => {
    expect(JSON.stringify(trackMetaPayload("t1", { role: "camera" }))).toBe('{"__meteredTrackMeta":{"trackId":"t1","metadata":{"role":"camera"}}}');
    expect(JSON.stringify(trackMetaPayload("t1"))).toBe('{"__meteredTrackMeta":{"trackId":"t1"}}');
  });
});

describe("classification of inbound direct data", () => {
  it("recognises offers, answers and candidates, extra keys tolerated", () => {
    expect(isRtcSignal({ type: "rtc-description", description: { type: "offer", sdp: "" } })).toBe(true);
    expect(isRtcSignal({ type: "rtc-description", description: { type: "answer", sdp: "s" }, extra: 1 })).toBe(true);
    expect(isRtcSignal({ type: "rtc-ice", candidate: null })).toBe(true);
    expect(isRtcSignal({ type: "rtc-ice", candidate: { candidate: "c" } })).toBe(true);
  });

  it("does not recognise rollback / pranswer, a non-string sdp, or other shapes", () => {
    for (const d of [
      { type: "rtc-description", description: { type: "rollback", sdp: "" } },
      { type: "rtc-description", description: { type: "pranswer", sdp: "" } },
      { type: "rtc-description", description: { type: "offer", sdp: 1 } },
      { type: "rtc-description", description: null },
      { type: "rtc-ice" },
      { type: "rtc-ice", candidate: "c" },
      { type: "chat", text: "hi" },
      null,
      "rtc-ice",
      [],
    ]) {
      expect(isRtcSignal(d), JSON.stringify(d)).toBe(false);
    }
  });

  it("track metadata messages need a non-empty trackId and a plain-object metadata if any", () => {
    expect(trackMetaOf({ __meteredTrackMeta: { trackId: "t", metadata: { a: 1 } } })).toEqual({ trackId: "t", metadata: { a: 1 } });
    expect(trackMetaOf({ __meteredTrackMeta: { trackId: "t" } })).toEqual({ trackId: "t" });
    for (const bad of [
      { __meteredTrackMeta: { trackId: "" } },
      { __meteredTrackMeta: { trackId: 5 } },
      { __meteredTrackMeta: { trackId: "t", metadata: [1] } },
      { __meteredTrackMeta: { trackId: "t", metadata: null } },
      { __meteredTrackMeta: null },
      { other: 1 },
    ]) {
      expect(trackMetaOf(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe("SDP helpers", () => {
  const sdp = [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "a=mid:0",
    "a=msid:stream-a audio-track",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "a=mid:1",
    "a=msid:stream-a video-track",
    "",
  ].join("\r\n");

  it("sessionId reads the o= line", () => {
    expect(sessionId(sdp)).toBe("4611731400430051336");
    expect(sessionId(undefined)).toBeUndefined();
    expect(sessionId("v=0\r\n")).toBeUndefined();
  });

  it("msidTrackId finds the sender's track id of a mid", () => {
    expect(msidTrackId(sdp, "0")).toBe("audio-track");
    expect(msidTrackId(sdp, "1")).toBe("video-track");
    expect(msidTrackId(sdp, "2")).toBeUndefined();
    expect(msidTrackId(sdp, null)).toBeUndefined();
    expect(msidTrackId(undefined, "0")).toBeUndefined();
  });
});

describe("scrubRtcError", () => {
  it("masks ICE and TURN secrets and credential query parameters, keeping the name", () => {
    const err = new Error('bad sdp a=ice-ufrag:abcd\r\na=ice-pwd:secretpwd {"credential":"turnpass"} wss://x/v1?token=jwt.x.y');
    err.name = "OperationError";
    const out = scrubRtcError(err);
    expect(out.name).toBe("OperationError");
    expect(out.message).not.toMatch(/abcd|secretpwd|turnpass|jwt\.x\.y/);
    expect(out.message).toContain("ice-pwd:***");
    expect(out.message).toContain("?token=***");
  });
});
