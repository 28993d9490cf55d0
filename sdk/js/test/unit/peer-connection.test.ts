// PeerConnection against a fake RTCPeerConnection, with fake timers: perfect-negotiation
// decisions, trickle ICE limits and the ICE-restart ladder's timing.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PeerConnection, type PeerConnectionEvents } from "../../src/peer-connection.js";
import type { RtcSignal } from "../../src/peer-protocol.js";
import type { Logger } from "../../src/types.js";
import { flush } from "../helpers/fake-server.js";
import { asLike, deferred, FakePC, FakeTrack } from "../helpers/fake-rtc.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function setup({ polite = false, sendFails = false } = {}) {
  const pc = new FakePC();
  const sent: RtcSignal[] = [];
  const events: { kind: string; value: unknown }[] = [];
  const logs: { level: string; msg: string }[] = [];
  const log: Logger = {
    debug: (msg) => logs.push({ level: "debug", msg }),
    info: (msg) => logs.push({ level: "info", msg }),
    warn: (msg) => logs.push({ level: "warn", msg }),
    error: (msg) => logs.push({ level: "error", msg }),
  };
  const on: PeerConnectionEvents = {
    state: (to) => events.push({ kind: "state", value: to }),
    error: (event, err) => events.push({ kind: event, value: err }),
    track: (ev) => events.push({ kind: "track", value: ev }),
    channel: (ch) => events.push({ kind: "channel", value: ch }),
  };
  const link = new PeerConnection(
    asLike(pc),
    polite,
    "remote",
    async (p) => {
      if (sendFails) throw new Error("NotConnectedError: wss://x/v1?token=secret");
      sent.push(p);
    },
    on,
    log,
  );
  const errors = (kind = "negotiation-error") => events.filter((e) => e.kind === kind).map((e) => e.value as Error);
  const offers = () => sent.filter((s) => s.type === "rtc-description" && s.description.type === "offer");
  return { pc, link, sent, events, logs, errors, offers };
}

const remoteOffer = (session = "9", v = 1): RtcSignal => ({
  type: "rtc-description",
  description: { type: "offer", sdp: `v=0\r\no=- ${session} ${v} IN IP4 127.0.0.1\r\n` },
});
const remoteAnswer = (): RtcSignal => ({ type: "rtc-description", description: { type: "answer", sdp: "v=0\r\no=- 9 2 IN IP4 0.0.0.0\r\n" } });

/** The head start a fresh connection gives the remote's offer (impolite, polite). */
const HEAD_START = { impolite: 300, polite: 1500 };

describe("negotiation", () => {
  it("offers on negotiationneeded and sends {type, sdp} only", async () => {
    const { pc, sent, offers } = setup();
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(HEAD_START.impolite - 10);
    expect(pc.offers).toEqual([]); // the remote gets a head start on a fresh connection
    await vi.advanceTimersByTimeAsync(10);
    expect(pc.offers).toEqual([undefined]);
    expect(pc.signalingState).toBe("have-local-offer");
    expect(offers()).toHaveLength(1);
    expect(Object.keys((sent[0] as { description: object }).description)).toEqual(["type", "sdp"]);
  });

  it("answers a remote offer", async () => {
    const { pc, link, sent } = setup();
    await link.handle(remoteOffer());
    expect(pc.signalingState).toBe("stable");
    expect(sent).toEqual([{ type: "rtc-description", description: { type: "answer", sdp: expect.stringContaining("o=- ") } }]);
  });

  it("on a fresh connection the polite side waits longer; a remote offer meanwhile is just answered", async () => {
    const { pc, link, sent, offers } = setup({ polite: true });
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(1000);
    expect(pc.offers).toEqual([]);
    await link.handle(remoteOffer());
    await vi.advanceTimersByTimeAsync(1000);
    expect(offers()).toEqual([]);
    expect(pc.remoteDescriptions).toHaveLength(1);
    expect(sent.filter((s) => s.type === "rtc-description")).toMatchObject([{ description: { type: "answer" } }]);
    // Later negotiations of the same connection start at once.
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await flush();
    expect(offers()).toHaveLength(1);
  });

  it("impolite: ignores a colliding offer, and the candidates that go with it silently", async () => {
    const { pc, link, sent, errors } = setup({ polite: false });
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(HEAD_START.impolite);
    expect(pc.signalingState).toBe("have-local-offer");
    await link.handle(remoteOffer());
    expect(pc.remoteDescriptions).toEqual([]);
    expect(sent.filter((s) => s.type === "rtc-description" && s.description.type === "answer")).toEqual([]);
    pc.candidateError = new Error("no remote description");
    await link.handle({ type: "rtc-ice", candidate: { candidate: "candidate:x" } });
    expect(errors("ice-candidate-error")).toEqual([]);
  });

  it("polite: applies a colliding offer (implicit rollback) and answers", async () => {
    const { pc, link, sent } = setup({ polite: true });
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(HEAD_START.polite);
    expect(pc.signalingState).toBe("have-local-offer");
    await link.handle(remoteOffer());
    expect(pc.remoteDescriptions).toHaveLength(1);
    expect(sent.at(-1)).toMatchObject({ type: "rtc-description", description: { type: "answer" } });
  });

  it("impolite: an offer queued right behind an answer is not glare", async () => {
    const { pc, link, sent } = setup({ polite: false });
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(HEAD_START.impolite);
    // Both arrive before the answer has been applied.
    const a = link.handle(remoteAnswer());
    const b = link.handle(remoteOffer("9", 3));
    await Promise.all([a, b]);
    expect(pc.remoteDescriptions.map((d) => d.type)).toEqual(["answer", "offer"]);
    expect(sent.at(-1)).toMatchObject({ description: { type: "answer" } });
  });

  it("abandons its own offer when a remote description was applied while it was being created", async () => {
    const { pc, link, offers, errors } = setup({ polite: true });
    const hold = deferred();
    pc.holdOffer = hold.promise;
    pc.addTrack(new FakeTrack() as unknown as MediaStreamTrack);
    await vi.advanceTimersByTimeAsync(HEAD_START.polite);
    expect(pc.offers).toHaveLength(1);
    await link.handle(remoteOffer()); // applied and answered while createOffer waits
    hold.resolve();
    await flush();
    expect(offers()).toEqual([]);
    expect(pc.localDescription?.type).toBe("answer");
    expect(errors()).toEqual([]);
  });

  it("reports a failing setRemoteDescription as a scrubbed negotiation-error", async () => {
    const { pc, link, errors } = setup();
    pc.remoteError = Object.assign(new Error("bad a=ice-pwd:hunter2"), { name: "OperationError" });
    await link.handle(remoteOffer());
    expect(errors().map((e) => [e.name, e.message])).toEqual([["OperationError", "bad a=ice-pwd:***"]]);
  });

  it("a delivery failure of SDP or ICE is logged, not reported", async () => {
    const { pc, link, errors, logs } = setup({ sendFails: true });
    await link.handle(remoteOffer());
    pc.gather({ candidate: "candidate:1", toJSON: () => ({ candidate: "candidate:1" }) });
    await flush();
    expect(errors()).toEqual([]);
    expect(logs.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual(["failed to send answer", "failed to send ICE candidate"]);
  });

  it("trickles local candidates and the end of candidates", async () => {
    const { pc, sent } = setup();
    pc.gather({ candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "u" });
    pc.gather(null);
    await flush();
    expect(sent).toEqual([
      { type: "rtc-ice", candidate: { candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "u" } },
      { type: "rtc-ice", candidate: null },
    ]);
  });

  it("inbound candidates: over-long strings dropped, at most 200 per generation, null always passes", async () => {
    const { pc, link, logs } = setup();
    await link.handle({ type: "rtc-ice", candidate: { candidate: "x".repeat(1001) } });
    expect(pc.candidates).toEqual([]);
    for (let i = 0; i < 205; i++) await link.handle({ type: "rtc-ice", candidate: { candidate: `c${i}` } });
    await link.handle({ type: "rtc-ice", candidate: null });
    expect(pc.candidates).toHaveLength(201);
    expect(pc.candidates.at(-1)).toBeUndefined();
    expect(logs.filter((l) => l.msg === "inbound ICE candidate cap reached")).toHaveLength(1);
    // A new remote description starts a new generation.
    await link.handle(remoteOffer());
    await link.handle({ type: "rtc-ice", candidate: { candidate: "again" } });
    expect(pc.candidates.at(-1)).toEqual({ candidate: "again" });
  });

  it("maps connection states and stops reporting once closed", () => {
    const { pc, link, events } = setup();
    for (const s of ["connecting", "connected", "disconnected", "failed", "connected"] as const) pc.setConnection(s);
    expect(events.map((e) => e.value)).toEqual(["connecting", "connected", "reconnecting", "reconnecting", "connected"]);
    link.close();
    expect(pc.closed).toBe(true);
    pc.setConnection("connecting");
    expect(events).toHaveLength(5);
    expect(pc.listenerCount("connectionstatechange")).toBe(0);
  });
});

describe("ICE-restart ladder", () => {
  /** Lets ICE fail and each restart offer go unanswered: returns the times of restart offers. */
  async function failForever(t: ReturnType<typeof setup>, ms: number): Promise<number[]> {
    const times: number[] = [];
    const start = Date.now();
    t.pc.setIce("failed");
    let seen = 0;
    for (let elapsed = 0; elapsed <= ms; elapsed += 100) {
      await vi.advanceTimersByTimeAsync(100);
      await flush();
      while (t.pc.offers.length > seen) {
        if (t.pc.offers[seen]?.iceRestart) times.push(Date.now() - start);
        seen++;
      }
    }
    return times;
  }

  it("restarts at once on failed, not on disconnected", async () => {
    const t = setup();
    t.pc.setIce("disconnected");
    await flush();
    expect(t.pc.offers).toEqual([]);
    t.pc.setIce("failed");
    await flush();
    expect(t.pc.offers).toEqual([{ iceRestart: true }]);
    expect(t.offers()).toHaveLength(1);
  });

  it("without answers: attempts at 0, +15+1, +15+2, … (answer timeout, then the delay), then one IceRestartExhaustedError", async () => {
    const t = setup();
    const times = await failForever(t, 400000);
    // Each attempt waits 15 s for an answer, then the next delay: 1, 2, 4, 8, 16, 30, 30, 30 s.
    const delays = [0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
    let at = 0;
    const expected = delays.map((d, i) => (at += d + (i === 0 ? 0 : 15000)));
    expect(times.length).toBe(9);
    times.forEach((ms, i) => expect(Math.abs(ms - (expected[i] as number))).toBeLessThanOrEqual(200));
    const exhausted = t.errors().filter((e) => e.name === "IceRestartExhaustedError");
    expect(exhausted).toHaveLength(1);
    expect(exhausted[0]?.message).toContain("9 attempts");
    // More failures in the same episode: still one.
    t.pc.setIce("checking");
    t.pc.setIce("failed");
    await vi.advanceTimersByTimeAsync(60000);
    expect(t.errors().filter((e) => e.name === "IceRestartExhaustedError")).toHaveLength(1);
  });

  it("each new failure after an answered restart climbs 0, 1, 2, 4… s", async () => {
    const t = setup();
    const when: number[] = [];
    const start = Date.now();
    for (let i = 0; i < 4; i++) {
      // Wait for the restart offer, answer it, then ICE fails again.
      const before = t.pc.offers.length;
      t.pc.setIce("failed");
      for (let j = 0; j < 100 && t.pc.offers.length === before; j++) await vi.advanceTimersByTimeAsync(100);
      when.push(Date.now() - start);
      await t.link.handle(remoteAnswer());
      t.pc.setIce("checking");
    }
    const gaps = when.map((w, i) => (i === 0 ? w : w - (when[i - 1] as number)));
    expect(gaps.map((g) => Math.round(g / 100) * 100)).toEqual([0, 1000, 2000, 4000]);
  });

  it("a connected connection resets the budget", async () => {
    const t = setup();
    await failForever(t, 20000); // attempts 1 and 2
    t.pc.setIce("connected");
    t.pc.setConnection("connected");
    const before = t.pc.offers.length;
    t.pc.setIce("failed");
    await flush();
    expect(t.pc.offers.length).toBe(before + 1); // immediate again
  });

  it("a scheduled attempt is dropped when ICE recovered or the remote's restart arrived", async () => {
    const t = setup();
    t.pc.setIce("failed");
    await flush();
    await t.link.handle(remoteAnswer());
    t.pc.setIce("checking");
    t.pc.setIce("failed"); // attempt 2 scheduled in 1 s
    t.pc.setIce("connected");
    await vi.advanceTimersByTimeAsync(1500);
    expect(t.pc.offers).toHaveLength(1);

    t.pc.setIce("failed"); // attempt 3 scheduled in 2 s (no "connected" connectionState yet)
    await t.link.handle(remoteOffer("9", 5)); // the remote restarts first
    await vi.advanceTimersByTimeAsync(2500);
    expect(t.pc.offers).toHaveLength(1);
  });

  it("stops when closed", async () => {
    const t = setup();
    t.pc.setIce("failed");
    await flush();
    t.link.close();
    await vi.advanceTimersByTimeAsync(300000);
    expect(t.pc.offers).toHaveLength(1);
    expect(t.errors()).toEqual([]);
  });
});

describe("ICE that never starts", () => {
  it("a negotiated connection still at ICE 'new' after 8 s climbs the ladder (each time it stays stuck)", async () => {
    const t = setup();
    await t.link.handle(remoteOffer());
    expect(t.pc.signalingState).toBe("stable");
    await vi.advanceTimersByTimeAsync(7900);
    expect(t.pc.offers).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.pc.offers).toEqual([{ iceRestart: true }]);
    expect(t.logs.some((l) => l.msg === "ICE has not started after negotiation; restarting it")).toBe(true);
    // The restart is answered but ICE stays "new": the next attempt comes after 8 s + 1 s.
    await t.link.handle(remoteAnswer());
    await vi.advanceTimersByTimeAsync(8000 + 1000 + 100);
    expect(t.pc.offers).toEqual([{ iceRestart: true }, { iceRestart: true }]);
  });

  it("does nothing once ICE has started", async () => {
    const t = setup();
    await t.link.handle(remoteOffer());
    t.pc.setIce("checking");
    await vi.advanceTimersByTimeAsync(20000);
    expect(t.pc.offers).toEqual([]);
  });
});
