// MeteredPeer and RemotePeer against the in-memory fake server and fake RTCPeerConnections, with
// fake timers: the join/close state machine, presence-driven peers, signal routing, local tracks,
// and the reconcile after a signalling drop (same RemotePeer objects, deadline, absent grace).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MeteredPeer } from "../../src/metered-peer.js";
import { MeteredPeerOversizedError, MeteredPeerReplaceTrackError, MeteredPeerStateError } from "../../src/peer-errors.js";
import type { MeteredPeerEventMap, MeteredPeerOptions } from "../../src/peer-types.js";
import type { RemotePeer } from "../../src/remote-peer.js";
import type { Logger } from "../../src/types.js";
import { FakeServer, flush, type Frame } from "../helpers/fake-server.js";
import { asLike, FakePC, FakeStream, FakeTrack } from "../helpers/fake-rtc.js";

beforeEach(() => {
  vi.useFakeTimers();
  FakePC.all = [];
});
afterEach(() => {
  vi.useRealTimers();
});

const ROOM = "room";
const TURN = [{ urls: ["turn:turn.example.com:3478?transport=udp"], username: "1:peer-1", credential: "c" }];

function setup(opts: Partial<MeteredPeerOptions> = {}) {
  const server = new FakeServer();
  server.peerId = "m";
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  const peer = new MeteredPeer({
    url: "ws://localhost:8080",
    apiKey: "pk_live_secret",
    webSocketFactory: server.factory,
    rtcPeerConnectionFactory: (config) => asLike(new FakePC(config)),
    reconnect: { initialDelayMs: 100, jitterRatio: 0 },
    logger,
    ...opts,
  });
  const events: { name: keyof MeteredPeerEventMap; payload: unknown }[] = [];
  const names: (keyof MeteredPeerEventMap)[] = ["joined", "left", "state-change", "peer-joined", "peer-left", "data", "error"];
  for (const name of names) peer.on(name, (payload) => events.push({ name, payload }));
  const of = <K extends keyof MeteredPeerEventMap>(name: K) =>
    events.filter((e) => e.name === name).map((e) => e.payload as MeteredPeerEventMap[K]);
  const states = () => of("state-change").map((s) => s.to);
  const remote = (id: string) => peer.remotePeers.find((r) => r.id === id) as RemotePeer;
  const presence = (joined: string[], left: string[] = []) =>
    server.last.frame({ type: "presence", channel: ROOM, joined: joined.map((peerId) => ({ peerId })), left: left.map((peerId) => ({ peerId })) });
  const direct = (from: string, data: unknown) => server.last.frame({ type: "direct", from, data });
  /** Client frames of type `send` on the current socket: [to, data]. */
  const sends = (): [string, unknown][] => server.last.framesOf("send").map((f: Frame) => [f.to as string, f.data]);
  return { server, peer, events, of, states, remote, presence, direct, sends, warnings };
}

async function joined(opts: Partial<MeteredPeerOptions> = {}) {
  const t = setup(opts);
  const p = t.peer.join(ROOM);
  await flush();
  await p;
  return t;
}

/** Drops the socket and lets the client reconnect (same peerId unless `newId`). */
async function reconnect(t: ReturnType<typeof setup>, newId?: string) {
  const old = t.server.last;
  old.serverClose(1006, "gone");
  await flush();
  if (newId) t.server.peerId = newId;
  await vi.advanceTimersByTimeAsync(150);
  await flush();
  expect(t.server.last).not.toBe(old);
}

const track = (kind: "audio" | "video" = "video", id?: string) => new FakeTrack(kind, id);
const asTrack = (t: FakeTrack) => t as unknown as MediaStreamTrack;
const asStream = (s: FakeStream) => s as unknown as MediaStream;
const pcOf = (r: RemotePeer) => r.pc as unknown as FakePC;

describe("join and close", () => {
  it("idle → joining → joined, subscribes, emits joined", async () => {
    const t = await joined();
    expect(t.states()).toEqual(["joining", "joined"]);
    expect(t.of("joined")).toEqual([{ peerId: "m", channel: ROOM }]);
    expect(t.server.last.framesOf("subscribe")).toEqual([{ type: "subscribe", channel: ROOM, requestId: expect.any(String) }]);
    expect(t.peer.toJSON()).toEqual({ state: "joined", peerId: "m", channel: ROOM });
    expect(JSON.stringify(t.peer)).not.toContain("pk_live_secret");
  });

  it("refuses a second join, reserved channels, and autoResubscribe: false", async () => {
    const t = await joined();
    await expect(t.peer.join("other")).rejects.toMatchObject({ name: "MeteredPeerStateError", code: "invalid_state", method: "join", currentState: "joined" });
    const u = setup();
    await expect(u.peer.join("_system/x")).rejects.toMatchObject({ name: "MeteredPeerSendError", code: "reserved_channel" });
    expect(u.peer.state).toBe("idle");
    expect(() => new MeteredPeer({ apiKey: "pk", autoResubscribe: false })).toThrow(TypeError);
  });

  it("a failed join goes back to idle, forgets the subscription, and may be retried", async () => {
    const t = setup();
    t.server.onFrame = (s, f) => {
      if (f.type !== "subscribe") return false;
      s.frame({ type: "error", code: "channel_not_authorized", requestId: f.requestId });
      return true;
    };
    const p = t.peer.join(ROOM);
    await flush();
    await expect(p).rejects.toMatchObject({ name: "channel_not_authorized" });
    expect(t.peer.state).toBe("idle");
    expect(t.server.last.framesOf("unsubscribe")).toHaveLength(1);
    t.server.onFrame = null;
    const again = t.peer.join(ROOM);
    await flush();
    await again;
    expect(t.peer.state).toBe("joined");
  });

  it("close(): every peer leaves, then left with the reason; terminal and idempotent", async () => {
    const t = await joined();
    t.presence(["b", "c"]);
    await t.peer.close("bye");
    expect(t.of("peer-left").map((e) => [e.peer.id, e.peer.state])).toEqual([["b", "closed"], ["c", "closed"]]);
    expect(t.of("left")).toEqual([{ peerId: "m", channel: ROOM, reason: "bye" }]);
    expect(t.states().slice(-2)).toEqual(["leaving", "closed"]);
    expect(t.peer.channel).toBeNull();
    await t.peer.close();
    expect(t.of("left")).toHaveLength(1);
    expect(() => t.peer.addTrack(asTrack(track()))).toThrow(MeteredPeerStateError);
    await expect(t.peer.join(ROOM)).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("close() while idle goes closed without left", async () => {
    const t = setup();
    await t.peer.close();
    expect(t.states()).toEqual(["closed"]);
    expect(t.of("left")).toEqual([]);
  });

  it("a terminal close reports a named error, removes every peer and emits left", async () => {
    const t = await joined();
    t.presence(["b"]);
    t.server.last.serverClose(4001, "invalid_token: expired");
    await flush();
    expect(t.of("error").map((e) => e.err.name)).toEqual(["invalid_token"]);
    expect(t.of("peer-left").map((e) => e.peer.id)).toEqual(["b"]);
    expect(t.peer.state).toBe("closed");
    expect(t.of("left")).toEqual([{ peerId: "m", channel: ROOM, reason: "invalid_token: expired" }]);
  });

  it("a tokenProvider failing until the reconnect attempts run out ends the session (closed, left)", async () => {
    let calls = 0;
    const t = await joined({
      apiKey: undefined,
      tokenProvider: async () => {
        if (calls++ === 0) return "jwt";
        throw new Error("backend down");
      },
      reconnect: { initialDelayMs: 100, jitterRatio: 0, maxAttempts: 3 },
    } as unknown as Partial<MeteredPeerOptions>);
    t.presence(["b"]);
    t.server.last.serverClose(1006);
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.peer.state).toBe("closed");
    expect(t.of("error").map((e) => e.err.name)).toEqual(["TokenProviderError"]);
    expect(t.of("peer-left").map((e) => e.peer.id)).toEqual(["b"]);
    expect(t.of("left")).toEqual([{ peerId: "m", channel: ROOM, reason: "token provider failed" }]);
  });

  it("uncorrelated fatal server errors and token-provider errors surface on error", async () => {
    const t = await joined();
    t.server.last.frame({ type: "error", code: "over_message_quota" });
    t.server.last.frame({ type: "error", code: "action_not_permitted", message: "no send" });
    expect(t.of("error").map((e) => e.err.name)).toEqual(["action_not_permitted"]);
  });
});

describe("peers from presence", () => {
  it("peer-joined / peer-left, politeness by lexical order, self ignored", async () => {
    const t = await joined();
    t.presence(["b", "zed", "m"]);
    expect(t.of("peer-joined").map((e) => [e.peer.id, e.peer.polite, e.peer.state])).toEqual([
      ["b", false, "idle"],
      ["zed", true, "idle"],
    ]);
    t.presence([], ["b"]);
    expect(t.of("peer-left").map((e) => e.peer.id)).toEqual(["b"]);
    expect(t.peer.remotePeers.map((r) => r.id)).toEqual(["zed"]);
  });

  it("builds each connection with the welcome's iceServers, kept when a later welcome has none", async () => {
    const t = setup();
    t.server.welcomeExtra = { metadata: { iceServers: TURN } };
    const p = t.peer.join(ROOM);
    await flush();
    await p;
    t.presence(["b"]);
    expect(FakePC.all.map((pc) => pc.config)).toEqual([{ iceServers: TURN }]);
    t.server.welcomeExtra = {};
    await reconnect(t);
    t.presence(["b"]);
    expect(FakePC.all.map((pc) => pc.config)).toEqual([{ iceServers: TURN }, { iceServers: TURN }]);
  });

  it("without iceServers the connection config is {}", async () => {
    const t = await joined();
    t.presence(["b"]);
    expect(FakePC.all[0]?.config).toEqual({});
  });

  it("local tracks reach a newcomer before peer-joined, metadata sent before the offer", async () => {
    const t = setup();
    const cam = new FakeStream([track("audio"), track("video")]);
    t.peer.addStream(asStream(cam), { role: "camera" });
    const p = t.peer.join(ROOM);
    await flush();
    await p;
    let sendersAtJoin = -1;
    t.peer.on("peer-joined", ({ peer }) => (sendersAtJoin = pcOf(peer).senders.length));
    t.presence(["b"]);
    expect(sendersAtJoin).toBe(2);
    await vi.advanceTimersByTimeAsync(300); // "m" > "b": impolite, the shorter head start
    const kinds = t.sends().map(([to, d]) => [to, (d as { type?: string }).type ?? Object.keys(d as object)[0]]);
    expect(kinds).toEqual([
      ["b", "__meteredTrackMeta"],
      ["b", "__meteredTrackMeta"],
      ["b", "rtc-description"],
    ]);
    expect(t.sends()[0]?.[1]).toEqual({ __meteredTrackMeta: { trackId: cam.tracks[0]?.id, metadata: { role: "camera" } } });
  });
});

describe("messages", () => {
  it("routes signals to the connection, track metadata to the remote, the rest to data", async () => {
    const t = await joined();
    t.presence(["b"]);
    const b = t.remote("b");
    t.direct("b", { type: "rtc-description", description: { type: "offer", sdp: "v=0\r\no=- 1 1 IN IP4 0\r\n" } });
    await flush();
    expect(pcOf(b).remoteDescriptions).toHaveLength(1);
    t.direct("b", { __meteredTrackMeta: { trackId: "tb", metadata: { label: "B" } } });
    t.direct("b", { hello: 1 });
    t.direct("stranger", { hello: 2 });
    t.direct("stranger", { type: "rtc-ice", candidate: null });
    t.server.last.frame({ type: "message", channel: ROOM, from: "b", data: "hi", fromMetadata: { n: 1 } });
    t.server.last.frame({ type: "message", channel: ROOM, from: "m", data: "echo" });
    t.server.last.frame({ type: "message", channel: "other", from: "b", data: "elsewhere" });
    expect(t.of("data")).toEqual([
      { senderPeerId: "b", data: { hello: 1 }, kind: "direct" },
      { senderPeerId: "b", data: "hi", kind: "broadcast", senderMetadata: { n: 1 } },
    ]);
    // The metadata shows on the matching inbound track.
    const seen: unknown[] = [];
    b.on("track", (e) => seen.push(e.metadata));
    pcOf(b).track(track("video", "tb"), []);
    expect(seen).toEqual([{ label: "B" }]);
  });

  it("send / sendTo / remote.send checks", async () => {
    const t = setup();
    await expect(t.peer.send("x")).rejects.toMatchObject({ name: "MeteredPeerSendError", code: "not_joined" });
    const u = await joined();
    u.presence(["b"]);
    await expect(u.peer.send(undefined)).rejects.toMatchObject({ code: "invalid_args" });
    await expect(u.peer.sendTo("", 1)).rejects.toMatchObject({ code: "invalid_args" });
    await expect(u.peer.sendTo("m", 1)).rejects.toMatchObject({ code: "self_send" });
    await expect(u.peer.sendTo("b", "x".repeat(70000))).rejects.toBeInstanceOf(MeteredPeerOversizedError);
    await u.peer.send({ a: 1 });
    await u.remote("b").send({ b: 2 });
    await u.peer.sendTo("b", { type: "rtc-ice", candidate: null });
    expect(u.warnings).toContain("sendTo: payload looks like an SDK control message; the receiver will not see it as data");
    expect(u.server.last.framesOf("publish").map((f) => f.data)).toEqual([{ a: 1 }]);
    const b = u.remote("b");
    u.presence([], ["b"]);
    await expect(b.send(1)).rejects.toThrow("RemotePeer b is closed");
  });
});

describe("local tracks", () => {
  it("addTrack: same track and stream again is a no-op, another stream is refused, oversized metadata throws", async () => {
    const t = await joined();
    t.presence(["b"]);
    const v = track();
    const s1 = new FakeStream([v]);
    t.peer.addTrack(asTrack(v), asStream(s1), { role: "a" });
    t.peer.addTrack(asTrack(v), asStream(s1), { role: "b" });
    expect(pcOf(t.remote("b")).senders).toHaveLength(1);
    expect(t.peer.getTrackMetadata(asTrack(v))).toEqual({ role: "a" });
    expect(t.peer.getStreamMetadata(asStream(s1))).toEqual({ role: "a" });
    expect(() => t.peer.addTrack(asTrack(v), asStream(new FakeStream()))).toThrow(
      expect.objectContaining({ name: "MeteredPeerStateError", code: "track_already_attached" }),
    );
    expect(() => t.peer.addTrack(asTrack(track()), undefined, { big: "x".repeat(70000) })).toThrow(MeteredPeerOversizedError);
    expect("currentState" in (new MeteredPeerStateError("track_already_attached", "addTrack", "m") as object)).toBe(false);
  });

  it("removeTrack clears the metadata (if any) and removes the sender", async () => {
    const t = await joined();
    t.presence(["b"]);
    const v = track();
    t.peer.addTrack(asTrack(v), undefined, { role: "x" });
    t.peer.removeTrack(asTrack(v));
    await flush();
    expect(pcOf(t.remote("b")).senders).toEqual([]);
    expect(t.sends().map(([, d]) => d)).toContainEqual({ __meteredTrackMeta: { trackId: v.id } });
  });

  it("replaceTrack: per-peer results, metadata moved, only peers sending the old track count", async () => {
    const t = await joined();
    const old = track();
    t.peer.addTrack(asTrack(old), undefined, { role: "cam" });
    t.presence(["b", "c", "d"]);
    // d does not send `old` any more (removed by hand): neither succeeded nor failed.
    const d = pcOf(t.remote("d"));
    d.removeTrack(d.senders[0] as unknown as RTCRtpSender);
    (pcOf(t.remote("c")).senders[0] as { replaceError: Error | null }).replaceError = new Error("incompatible");
    const next = track();
    const err = await t.peer.replaceTrack(asTrack(old), asTrack(next)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeteredPeerReplaceTrackError);
    expect((err as MeteredPeerReplaceTrackError).succeeded).toEqual(["b"]);
    expect((err as MeteredPeerReplaceTrackError).failed.map((f) => f.peerId)).toEqual(["c"]);
    expect(t.peer.getTrackMetadata(asTrack(next))).toEqual({ role: "cam" });
    expect(t.peer.getTrackMetadata(asTrack(old))).toBeUndefined();
    await flush();
    const toB = t.sends().filter(([to, d]) => to === "b" && (d as object) && "__meteredTrackMeta" in (d as object)).map(([, d]) => d);
    expect(toB.slice(-2)).toEqual([
      { __meteredTrackMeta: { trackId: old.id } },
      { __meteredTrackMeta: { trackId: next.id, metadata: { role: "cam" } } },
    ]);
  });

  it("replaceTrack(t, null) while alone stops tracking t (a later peer does not get it)", async () => {
    const t = await joined();
    const v = track();
    t.peer.addTrack(asTrack(v));
    await t.peer.replaceTrack(asTrack(v), null);
    t.presence(["b"]);
    expect(pcOf(t.remote("b")).senders).toEqual([]);
    await expect(t.peer.replaceTrack(null as unknown as MediaStreamTrack, null)).rejects.toBeInstanceOf(TypeError);
  });
});

describe("inbound streams (RemotePeer)", () => {
  it("stream-added once per stream id; stream-removed on removetrack or ended of the last track", async () => {
    const t = await joined();
    t.presence(["b"]);
    const b = t.remote("b");
    const added: string[] = [];
    const removed: string[] = [];
    b.on("stream-added", ({ stream }) => added.push(stream.id));
    b.on("stream-removed", ({ stream }) => removed.push(stream.id));
    const a1 = track("audio");
    const v1 = track("video");
    const s = new FakeStream([a1, v1], "S");
    pcOf(b).track(a1, [s]);
    pcOf(b).track(v1, [s]);
    expect(added).toEqual(["S"]);
    s.dispatch("removetrack", { track: a1 });
    expect(removed).toEqual([]);
    v1.end();
    expect(removed).toEqual(["S"]);
  });

  it("finds metadata through the SDP's msid when the receiving track has another id", async () => {
    const t = await joined();
    t.presence(["b"]);
    const b = t.remote("b");
    t.direct("b", { __meteredTrackMeta: { trackId: "sender-track", metadata: { name: "Bo" } } });
    pcOf(b).remoteDescription = { type: "offer", sdp: "v=0\r\nm=video 9 X 96\r\na=mid:0\r\na=msid:S sender-track\r\n" };
    const got: unknown[] = [];
    b.on("stream-added", ({ metadata }) => got.push(metadata));
    pcOf(b).track(track("video", "receiver-local-id"), [new FakeStream([], "S")], "0");
    expect(got).toEqual([{ name: "Bo" }]);
  });
});

describe("reconcile after a signalling drop", () => {
  async function inCall(opts: Partial<MeteredPeerOptions> = {}) {
    const t = await joined(opts);
    const cam = new FakeStream([track("video")]);
    t.peer.addStream(asStream(cam), { role: "camera" });
    t.presence(["b", "c"]);
    for (const r of t.peer.remotePeers) pcOf(r).setConnection("connected");
    return { ...t, cam };
  }

  it("keeps the RemotePeers across the drop, swaps their connections and goes back to joined", async () => {
    const t = await inCall();
    const b = t.remote("b");
    const oldPc = pcOf(b);
    const remoteStates: string[] = [];
    b.on("state-change", ({ to }) => remoteStates.push(to));
    const resets: number[] = [];
    b.on("connection-reset", () => resets.push(pcOf(b).senders.length));

    await reconnect(t);
    expect(t.peer.state).toBe("reconnecting");
    expect(b.state).toBe("reconnecting");
    t.presence(["b", "c"]); // the roster
    expect(t.peer.state).toBe("joined");
    expect(t.remote("b")).toBe(b);
    expect(oldPc.closed).toBe(true);
    expect(pcOf(b)).not.toBe(oldPc);
    expect(resets).toEqual([0]); // emitted before the tracks are attached again
    expect(pcOf(b).senders).toHaveLength(1);
    expect(t.of("peer-left")).toEqual([]);
    expect(t.of("peer-joined")).toHaveLength(2);
    // The new connection's "connecting" is hidden.
    pcOf(b).setConnection("connecting");
    pcOf(b).setConnection("connected");
    expect(remoteStates).toEqual(["reconnecting", "connected"]);
    expect(t.states().slice(-2)).toEqual(["reconnecting", "joined"]);
  });

  it("publishable keys (new peerId): departures leave at once, newcomers join", async () => {
    const t = await inCall();
    const b = t.remote("b");
    await reconnect(t, "m2");
    t.presence(["b", "d"]);
    expect(t.of("peer-left").map((e) => e.peer.id)).toEqual(["c"]);
    expect(t.of("peer-joined").map((e) => e.peer.id)).toEqual(["b", "c", "d"]);
    expect(t.remote("b")).toBe(b);
    expect(b.polite).toBe(false); // "m2" > "b"
    expect(t.peer.peerId).toBe("m2");
  });

  it("stable peerIds: a peer missing from the roster gets a grace period to come back", async () => {
    const t = await inCall();
    const c = t.remote("c");
    await reconnect(t);
    t.presence(["b"]); // c has not reconnected yet
    expect(t.peer.state).toBe("joined");
    expect(t.of("peer-left")).toEqual([]);
    expect(c.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(3000);
    const resets: number[] = [];
    c.on("connection-reset", () => resets.push(1));
    t.presence(["c"]); // c is back
    expect(t.remote("c")).toBe(c);
    expect(resets).toEqual([1]);
    await vi.advanceTimersByTimeAsync(20000);
    expect(t.of("peer-left")).toEqual([]);
  });

  it("stable peerIds: a peer that does not come back leaves after the grace period", async () => {
    const t = await inCall();
    await reconnect(t);
    t.presence(["b"]);
    await vi.advanceTimersByTimeAsync(9000);
    expect(t.of("peer-left")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(t.of("peer-left").map((e) => e.peer.id)).toEqual(["c"]);
  });

  it("no roster: subscribes again twice, 10 s apart, then ReconcileTimeoutError", async () => {
    const t = await inCall();
    await reconnect(t);
    const subs = () => t.server.last.framesOf("subscribe").length;
    expect(subs()).toBe(1); // the client's own replay
    await vi.advanceTimersByTimeAsync(10000);
    expect(subs()).toBe(2);
    await vi.advanceTimersByTimeAsync(10000);
    expect(subs()).toBe(3);
    expect(t.of("error")).toEqual([]);
    await vi.advanceTimersByTimeAsync(10000);
    expect(t.of("error").map((e) => e.err.name)).toEqual(["ReconcileTimeoutError"]);
    expect(t.peer.state).toBe("reconnecting");
  });

  it("a peer alone goes back to joined on the welcome", async () => {
    const t = await joined();
    await reconnect(t);
    expect(t.peer.state).toBe("joined");
    await vi.advanceTimersByTimeAsync(40000);
    expect(t.of("error")).toEqual([]);
  });

  it("idle remotes stay idle across the drop", async () => {
    const t = await joined();
    t.presence(["b"]);
    await reconnect(t);
    expect(t.remote("b").state).toBe("idle");
    t.presence(["b"]);
    expect(t.remote("b").state).toBe("idle");
  });

  it("an offer from another RTCPeerConnection of a known peer resets our connection to it", async () => {
    const t = await joined();
    t.presence(["b"]);
    const b = t.remote("b");
    const first = { type: "rtc-description", description: { type: "offer", sdp: "v=0\r\no=- 111 2 IN IP4 0\r\n" } };
    t.direct("b", first);
    await flush();
    const before = pcOf(b);
    t.direct("b", { type: "rtc-description", description: { type: "offer", sdp: "v=0\r\no=- 111 3 IN IP4 0\r\n" } });
    await flush();
    expect(pcOf(b)).toBe(before); // a renegotiation of the same connection
    const resets: number[] = [];
    b.on("connection-reset", () => resets.push(1));
    t.direct("b", { type: "rtc-description", description: { type: "offer", sdp: "v=0\r\no=- 222 1 IN IP4 0\r\n" } });
    await flush();
    expect(resets).toEqual([1]);
    expect(pcOf(b)).not.toBe(before);
    expect(pcOf(b).remoteDescriptions.map((d) => d.sdp)).toEqual(["v=0\r\no=- 222 1 IN IP4 0\r\n"]);
    expect(t.remote("b")).toBe(b);
  });

  it("replaceTrack is refused while reconnecting; tracks added meanwhile reach the new connections", async () => {
    const t = await inCall();
    await reconnect(t);
    await expect(t.peer.replaceTrack(asTrack(t.cam.tracks[0] as FakeTrack), null)).rejects.toMatchObject({ code: "invalid_state" });
    const extra = track("audio");
    t.peer.addTrack(asTrack(extra));
    expect(pcOf(t.remote("b")).senders).toHaveLength(1); // not on the old connection
    t.presence(["b", "c"]);
    expect(pcOf(t.remote("b")).senders.map((s) => s.track)).toEqual([t.cam.tracks[0], extra]);
  });
});
