// One RTCPeerConnection to one remote peer: W3C perfect negotiation over the signalling payloads of
// peer-protocol.ts, trickle ICE with the official SDK's receive limits, and the ICE-restart ladder
// (SDK.md §6.3, §7). RemotePeer owns one at a time and replaces it on a connection reset; a closed
// PeerConnection never calls back again.
import { namedError, scrubRtcError } from "./errors.js";
import { descriptionPayload, icePayload, type RtcSignal } from "./peer-protocol.js";
import type { PeerConnectionState, RTCPeerConnectionLike } from "./peer-types.js";
import type { Logger } from "./types.js";

type Timer = ReturnType<typeof setTimeout>;

/** Inbound candidates per negotiation generation (a hostile peer could make us probe anything). */
const MAX_CANDIDATES = 200;
/** Longest inbound candidate string; real ones are under 200 characters. */
const MAX_CANDIDATE_CHARS = 1000;
/** ICE restarts before giving up: delays 0, 1, 2, 4, 8, 16, 30, 30, 30 s (about two minutes). */
const MAX_RESTARTS = 9;
const RESTART_BASE_MS = 1000;
const RESTART_CAP_MS = 30000;
/** A restart offer whose answer has not come in this long counts as a failed attempt. */
const RESTART_ANSWER_TIMEOUT_MS = 15000;
/**
 * A negotiated connection whose ICE agent has not even started checking this long afterwards is
 * stuck (no usable candidate either way: lost trickle messages, a TURN server out of reach, a
 * browser that gathered nothing). It climbs the ICE-restart ladder as if ICE had failed — a
 * restart gathers anew — and ends with IceRestartExhaustedError rather than "connecting" forever.
 */
const ICE_STALL_MS = 8000;
/**
 * The first offer of a fresh connection waits this long (impolite side, polite side) for the
 * remote's offer. Both sides add their tracks when they learn of each other, so both would offer at
 * once; Chromium can then leave the polite side (which rolls its offer back) without ICE
 * candidates for good. Staggered, the impolite side's offer (or the official SDK's, sent at once)
 * arrives first and is simply answered.
 */
const FIRST_OFFER_DELAY_MS = [300, 1500];

/** What a PeerConnection reports to its owner. Never called after close(). */
export interface PeerConnectionEvents {
  state(to: PeerConnectionState): void;
  error(event: "negotiation-error" | "ice-candidate-error", err: Error): void;
  track(ev: RTCTrackEvent): void;
  channel(channel: RTCDataChannel): void;
}

const STATES: Partial<Record<RTCPeerConnectionState, PeerConnectionState>> = {
  new: "connecting",
  connecting: "connecting",
  connected: "connected",
  disconnected: "reconnecting",
  failed: "reconnecting",
  closed: "closed",
};

export class PeerConnection {
  readonly pc: RTCPeerConnectionLike;
  readonly polite: boolean;
  readonly #send: (payload: RtcSignal) => Promise<void>;
  readonly #on: PeerConnectionEvents;
  readonly #log: Logger;
  readonly #peer: string;
  readonly #detach: () => void;
  #closed = false;

  // Perfect negotiation.
  #makingOffer = false;
  #ignoreOffer = false;
  #answerPending = false;
  /** Bumped whenever a remote description has been applied: an offer created before is stale. */
  #generation = 0;
  #candidates = 0;

  // ICE-restart ladder.
  #attempts = 0;
  #inFlight = false;
  #gaveUp = false;
  #restartTimer: Timer | null = null;
  #answerTimer: Timer | null = null;
  #stallTimer: Timer | null = null;

  /**
   * Wraps `pc` (listening to its events from now on). `send` carries a payload to the remote peer;
   * `polite` is this side's role (the lexically smaller peerId is polite).
   */
  constructor(
    pc: RTCPeerConnectionLike,
    polite: boolean,
    peer: string,
    send: (payload: RtcSignal) => Promise<void>,
    on: PeerConnectionEvents,
    log: Logger,
  ) {
    this.pc = pc;
    this.polite = polite;
    this.#peer = peer;
    this.#send = send;
    this.#on = on;
    this.#log = log;
    const handlers: Record<string, (ev: never) => void> = {
      negotiationneeded: () => void this.#negotiate(),
      icecandidate: (ev: { candidate?: Parameters<typeof icePayload>[0] }) =>
        this.#deliver(icePayload(ev.candidate), "ICE candidate"),
      track: (ev: RTCTrackEvent) => this.#on.track(ev),
      datachannel: (ev: RTCDataChannelEvent) => this.#on.channel(ev.channel),
      connectionstatechange: () => this.#onConnectionState(),
      iceconnectionstatechange: () => this.#onIceState(),
    };
    const types = Object.keys(handlers);
    // Every handler is a no-op once closed: a closed PeerConnection reports nothing.
    const guarded = types.map((t) => (ev: unknown) => this.#closed || (handlers[t] as (ev: unknown) => void)(ev));
    types.forEach((t, i) => pc.addEventListener(t, guarded[i]!));
    this.#detach = () => types.forEach((t, i) => pc.removeEventListener(t, guarded[i]!));
  }

  /** Applies an inbound `rtc-description` / `rtc-ice`. Never rejects: failures are reported. */
  async handle(signal: RtcSignal): Promise<void> {
    if (this.#closed) return;
    try {
      if (signal.type === "rtc-description") await this.#description(signal.description);
      else await this.#candidate(signal.candidate);
    } catch (err) {
      if (!this.#closed) this.#on.error("negotiation-error", scrubRtcError(err));
    }
  }

  /** Stops everything and closes the RTCPeerConnection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#restartTimer ?? undefined);
    clearTimeout(this.#answerTimer ?? undefined);
    clearTimeout(this.#stallTimer ?? undefined);
    this.#detach();
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }

  // ---- negotiation ----

  /** negotiationneeded: offer, after a head start for the remote on a fresh connection. */
  async #negotiate(): Promise<void> {
    const pc = this.pc;
    if (!pc.localDescription && !pc.remoteDescription) {
      const generation = this.#generation;
      await new Promise((r) => setTimeout(r, FIRST_OFFER_DELAY_MS[Number(this.polite)]));
      // The remote's offer came (and was answered): the browser asks again if still needed.
      if (this.#closed || generation !== this.#generation || pc.signalingState !== "stable") return;
    }
    await this.#offer(false);
  }

  /** Makes, applies and sends an offer (from negotiationneeded, or an ICE restart). */
  async #offer(restart: boolean): Promise<void> {
    const pc = this.pc;
    if (restart && this.#makingOffer) {
      // Another offer holds the lock; its end re-enters the ladder.
      this.#inFlight = false;
      return;
    }
    const generation = this.#generation;
    const stale = (): boolean => generation !== this.#generation || pc.signalingState === "have-remote-offer";
    this.#makingOffer = true;
    try {
      const offer = await pc.createOffer(restart ? { iceRestart: true } : undefined);
      if (this.#closed) return;
      // A remote description was applied meanwhile (glare the polite way): this offer is stale.
      // (An unanswered offer of our own in have-local-offer may be replaced, though.)
      if (stale()) {
        if (restart) this.#inFlight = false;
        return;
      }
      await pc.setLocalDescription(offer);
      if (this.#closed) return;
      if (restart) this.#candidates = 0;
      await this.#sendLocal();
      if (restart) this.#armAnswerTimer();
    } catch (err) {
      if (this.#closed) return;
      if (restart) this.#inFlight = false;
      // A remote offer overtaking ours in the operations chain makes setLocalDescription(offer)
      // fail: not an error, the remote's negotiation goes on.
      if (stale()) this.#log.debug("stale local offer dropped", { peer: this.#peer });
      else this.#on.error("negotiation-error", scrubRtcError(err));
    } finally {
      this.#makingOffer = false;
      this.#reenterLadder();
    }
  }

  async #description(d: RTCSessionDescriptionInit): Promise<void> {
    const pc = this.pc;
    const collision =
      d.type === "offer" && (this.#makingOffer || (pc.signalingState !== "stable" && !this.#answerPending));
    this.#ignoreOffer = !this.polite && collision;
    if (this.#ignoreOffer) {
      this.#log.debug("ignoring a colliding offer (impolite side)", { peer: this.#peer });
      return;
    }
    // The polite side just applies a colliding offer: the browser rolls its own back.
    this.#answerPending = d.type === "answer";
    try {
      await pc.setRemoteDescription(d);
    } finally {
      this.#answerPending = false;
    }
    if (this.#closed) return;
    this.#candidates = 0;
    this.#generation++;
    this.#clearAnswerTimer();
    if (d.type === "offer") {
      const answer = await pc.createAnswer();
      if (this.#closed) return;
      await pc.setLocalDescription(answer);
      if (this.#closed) return;
      await this.#sendLocal();
    }
    this.#armStallTimer();
  }

  async #candidate(c: RTCIceCandidateInit | null): Promise<void> {
    if (c !== null) {
      if (typeof c.candidate === "string" && c.candidate.length > MAX_CANDIDATE_CHARS) return;
      if (this.#candidates >= MAX_CANDIDATES) {
        if (this.#candidates++ === MAX_CANDIDATES) this.#log.warn("inbound ICE candidate cap reached", { peer: this.#peer });
        return;
      }
      this.#candidates++;
    }
    try {
      await this.pc.addIceCandidate(c ?? undefined);
    } catch (err) {
      // Candidates of an offer we ignored are expected to fail.
      if (!this.#closed && !this.#ignoreOffer) this.#on.error("ice-candidate-error", scrubRtcError(err));
    }
  }

  async #sendLocal(): Promise<void> {
    const d = this.pc.localDescription;
    if (!d) throw new Error("no local description after setLocalDescription");
    await this.#deliver(descriptionPayload(d), `${d.type}`);
  }

  /** Sends a payload; a delivery failure (signalling down) is logged, never reported as an error. */
  #deliver(payload: RtcSignal, what: string): Promise<void> {
    return this.#send(payload).catch((err: unknown) =>
      this.#log.warn(`failed to send ${what}`, { peer: this.#peer, err: scrubRtcError(err).message }),
    );
  }

  // ---- state and the ICE-restart ladder ----

  #onConnectionState(): void {
    const cs = this.pc.connectionState;
    if (cs === "connected") {
      // A working connection earns a fresh restart budget (and a fresh terminal error).
      this.#attempts = 0;
      this.#gaveUp = false;
      this.#clearAnswerTimer();
    }
    const to = STATES[cs];
    if (to) this.#on.state(to);
  }

  #onIceState(): void {
    if (this.pc.iceConnectionState !== "failed") {
      this.#inFlight = false;
      return;
    }
    // "disconnected" heals by itself; only "failed" climbs the ladder.
    if (this.#inFlight || this.#makingOffer || this.#restartTimer !== null) return;
    this.#nextRestart();
  }

  /** Schedules the next ICE restart (the first at once), or gives up after MAX_RESTARTS. */
  #nextRestart(): void {
    if (this.#attempts >= MAX_RESTARTS) {
      if (!this.#gaveUp) {
        this.#gaveUp = true;
        this.#on.error(
          "negotiation-error",
          namedError("IceRestartExhaustedError", `ICE restart gave up after ${this.#attempts} attempts`),
        );
      }
      return;
    }
    const n = this.#attempts++;
    this.#inFlight = true;
    if (n === 0) {
      void this.#offer(true);
      return;
    }
    const generation = this.#generation;
    this.#restartTimer = setTimeout(
      () => {
        this.#restartTimer = null;
        if (this.#closed) return;
        // Recovered, or the remote's own restart (or a late answer) is under way: let it be.
        if (this.#iceUp() || generation !== this.#generation) {
          this.#inFlight = false;
          return;
        }
        void this.#offer(true);
      },
      Math.min(RESTART_BASE_MS * 2 ** (n - 1), RESTART_CAP_MS),
    );
  }

  #armAnswerTimer(): void {
    this.#clearAnswerTimer();
    const generation = this.#generation;
    this.#answerTimer = setTimeout(() => {
      this.#answerTimer = null;
      if (this.#closed || this.#iceUp() || generation !== this.#generation) return;
      if (this.#makingOffer) {
        this.#armAnswerTimer();
        return;
      }
      this.#inFlight = false;
      this.#nextRestart();
    }, RESTART_ANSWER_TIMEOUT_MS);
  }

  /** After a completed negotiation: ICE still "new" after ICE_STALL_MS → treat it as failed. */
  #armStallTimer(): void {
    clearTimeout(this.#stallTimer ?? undefined);
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = null;
      const pc = this.pc;
      if (this.#closed || pc.iceConnectionState !== "new" || pc.signalingState !== "stable") return;
      if (this.#makingOffer || this.#restartTimer !== null) return;
      // Negotiation is complete (stable), so no restart is under way even if one was started.
      this.#log.warn("ICE has not started after negotiation; restarting it", { peer: this.#peer });
      this.#inFlight = false;
      this.#nextRestart();
    }, ICE_STALL_MS);
  }

  #clearAnswerTimer(): void {
    clearTimeout(this.#answerTimer ?? undefined);
    this.#answerTimer = null;
  }

  /** ICE state changes only on transitions: after an offer, look again if it is still "failed". */
  #reenterLadder(): void {
    setTimeout(() => {
      if (!this.#closed && this.pc.iceConnectionState === "failed") this.#onIceState();
    }, 0);
  }

  #iceUp(): boolean {
    const s = this.pc.iceConnectionState;
    return s === "connected" || s === "completed";
  }
}
