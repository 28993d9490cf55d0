// A scriptable RTCPeerConnection and RTCDataChannel for unit tests of the WebRTC layer: enough of
// the W3C state machine (signaling states with implicit rollback, negotiationneeded after
// addTrack/removeTrack/createDataChannel) to drive perfect negotiation, with hooks to make
// operations wait or fail and to move the ICE / connection states by hand.
import type { RTCPeerConnectionLike } from "../../src/peer-types.js";

type Listener = (ev: unknown) => void;

class Listeners {
  readonly #map = new Map<string, Listener[]>();
  addEventListener(type: string, l: Listener): void {
    this.#map.set(type, [...(this.#map.get(type) ?? []), l]);
  }
  removeEventListener(type: string, l: Listener): void {
    this.#map.set(type, (this.#map.get(type) ?? []).filter((x) => x !== l));
  }
  listenerCount(type: string): number {
    return this.#map.get(type)?.length ?? 0;
  }
  dispatch(type: string, ev: unknown = {}): void {
    for (const l of [...(this.#map.get(type) ?? [])]) l(ev);
  }
}

/** A promise settled from outside. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let sessions = 1000;

export class FakeTrack extends Listeners {
  static #n = 0;
  readonly id: string;
  constructor(readonly kind: "audio" | "video" = "video", id?: string) {
    super();
    this.id = id ?? `track-${++FakeTrack.#n}`;
  }
  end(): void {
    this.dispatch("ended", {});
  }
}

export class FakeStream extends Listeners {
  static #n = 0;
  readonly id: string;
  constructor(readonly tracks: FakeTrack[] = [], id?: string) {
    super();
    this.id = id ?? `stream-${++FakeStream.#n}`;
  }
  getTracks(): FakeTrack[] {
    return this.tracks;
  }
}

export class FakeSender {
  replaceError: Error | null = null;
  constructor(public track: FakeTrack | null) {}
  async replaceTrack(t: FakeTrack | null): Promise<void> {
    if (this.replaceError) throw this.replaceError;
    this.track = t;
  }
}

export class FakePC extends Listeners {
  static all: FakePC[] = [];
  readonly session = String(++sessions);
  connectionState: RTCPeerConnectionState = "new";
  signalingState: RTCSignalingState = "stable";
  iceConnectionState: RTCIceConnectionState = "new";
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  closed = false;
  readonly senders: FakeSender[] = [];
  readonly offers: (RTCOfferOptions | undefined)[] = [];
  readonly remoteDescriptions: RTCSessionDescriptionInit[] = [];
  readonly candidates: (RTCIceCandidateInit | undefined)[] = [];
  readonly channels: string[] = [];
  /** When set, the next createOffer waits for this promise. */
  holdOffer: Promise<void> | null = null;
  /** When set, setRemoteDescription rejects with it. */
  remoteError: Error | null = null;
  candidateError: Error | null = null;
  #version = 0;
  #negotiationQueued = false;
  #negotiationScheduled = false;

  constructor(readonly config: RTCConfiguration = {}) {
    super();
    FakePC.all.push(this);
  }

  #sdp(type: RTCSdpType): string {
    return `v=0\r\no=- ${this.session} ${++this.#version} IN IP4 127.0.0.1\r\ns=${type}\r\n`;
  }

  async createOffer(opts?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    this.offers.push(opts);
    const hold = this.holdOffer;
    this.holdOffer = null;
    if (hold) await hold;
    return { type: "offer", sdp: this.#sdp("offer") };
  }

  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    if (this.signalingState !== "have-remote-offer") throw new Error("InvalidStateError: createAnswer in " + this.signalingState);
    return { type: "answer", sdp: this.#sdp("answer") };
  }

  async setLocalDescription(d?: RTCSessionDescriptionInit): Promise<void> {
    if (!d?.type || d.sdp === undefined) throw new Error("fake: explicit descriptions only");
    if (d.type === "offer" && this.signalingState === "have-remote-offer") throw new Error("InvalidStateError: local offer in have-remote-offer");
    if (d.type === "answer" && this.signalingState !== "have-remote-offer") throw new Error("InvalidStateError: local answer in " + this.signalingState);
    this.localDescription = { type: d.type, sdp: d.sdp };
    this.#setSignaling(d.type === "offer" ? "have-local-offer" : "stable");
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (this.remoteError) throw this.remoteError;
    this.remoteDescriptions.push(d);
    if (d.type === "answer" && this.signalingState !== "have-local-offer") throw new Error("InvalidStateError: answer in " + this.signalingState);
    this.remoteDescription = { type: d.type as RTCSdpType, sdp: d.sdp ?? "" };
    // An offer in have-local-offer rolls our own offer back implicitly.
    this.#setSignaling(d.type === "offer" ? "have-remote-offer" : "stable");
  }

  async addIceCandidate(c?: RTCIceCandidateInit | null): Promise<void> {
    this.candidates.push(c ?? undefined);
    if (this.candidateError) throw this.candidateError;
  }

  addTrack(track: MediaStreamTrack, ..._streams: MediaStream[]): RTCRtpSender {
    const s = new FakeSender(track as unknown as FakeTrack);
    this.senders.push(s);
    this.#needNegotiation();
    return s as unknown as RTCRtpSender;
  }

  removeTrack(sender: RTCRtpSender): void {
    const i = this.senders.indexOf(sender as unknown as FakeSender);
    if (i >= 0) this.senders.splice(i, 1);
    this.#needNegotiation();
  }

  getSenders(): RTCRtpSender[] {
    return this.senders as unknown as RTCRtpSender[];
  }

  createDataChannel(label: string): RTCDataChannel {
    this.channels.push(label);
    this.#needNegotiation();
    return { label } as RTCDataChannel;
  }

  setConfiguration(): void {}

  close(): void {
    this.closed = true;
    this.connectionState = "closed";
    this.signalingState = "closed";
  }

  // ---- test controls ----

  setIce(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    this.dispatch("iceconnectionstatechange");
  }

  setConnection(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.dispatch("connectionstatechange");
  }

  /** A local ICE candidate (or the end of candidates, null). */
  gather(candidate: unknown): void {
    this.dispatch("icecandidate", { candidate });
  }

  /** An inbound track event. */
  track(track: FakeTrack, streams: FakeStream[], mid: string | null = null): void {
    this.dispatch("track", { track, streams, transceiver: { mid } });
  }

  #setSignaling(s: RTCSignalingState): void {
    this.signalingState = s;
    this.dispatch("signalingstatechange");
    if (s === "stable" && this.#negotiationQueued) {
      this.#negotiationQueued = false;
      this.#needNegotiation();
    }
  }

  #needNegotiation(): void {
    if (this.signalingState !== "stable") {
      this.#negotiationQueued = true;
      return;
    }
    // Several changes in one task make one event, as in browsers.
    if (this.#negotiationScheduled) return;
    this.#negotiationScheduled = true;
    queueMicrotask(() => {
      this.#negotiationScheduled = false;
      if (!this.closed) this.dispatch("negotiationneeded");
    });
  }
}

export const asLike = (pc: FakePC): RTCPeerConnectionLike => pc as unknown as RTCPeerConnectionLike;

/** A scriptable RTCDataChannel. */
export class FakeDataChannel extends Listeners {
  readyState: RTCDataChannelState = "open";
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readonly sent: (string | ArrayBuffer)[] = [];
  closeCalls = 0;
  constructor(readonly label = "chan") {
    super();
  }
  send(data: string | ArrayBuffer): void {
    if (this.readyState !== "open") throw new Error("InvalidStateError");
    this.sent.push(data);
    this.bufferedAmount += typeof data === "string" ? data.length : data.byteLength;
  }
  close(): void {
    this.closeCalls++;
    this.readyState = "closed";
  }
  /** The transport drained down to `to` bytes; fires bufferedamountlow if at or under the threshold. */
  drain(to = 0): void {
    this.bufferedAmount = to;
    if (to <= this.bufferedAmountLowThreshold) this.dispatch("bufferedamountlow");
  }
}
