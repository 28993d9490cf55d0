// RemotePeer: one other member of the joined channel, as the application sees it (SDK.md §5).
// MeteredPeer creates it and drives it through the @internal `_` methods; the object lives as long
// as the peer stays in the channel, across connection resets (a fresh RTCPeerConnection swapped in
// after a signalling drop), so application references stay valid.
import { Emitter } from "./emitter.js";
import { PeerConnection } from "./peer-connection.js";
import { msidTrackId, type RtcSignal } from "./peer-protocol.js";
import type { PeerConnectionState, RemotePeerEventMap, RTCPeerConnectionLike, StreamMetadata } from "./peer-types.js";
import type { Logger } from "./types.js";

/** Inbound track metadata kept per remote (oldest dropped first): a peer could send unlimited ids. */
const MAX_TRACK_METADATA = 512;

/** What MeteredPeer gives a RemotePeer (applications never construct one). */
export interface RemotePeerInit {
  id: string;
  metadata?: Record<string, unknown>;
  /** Sends a signalling payload to this peer (SDP, ICE). */
  signal: (payload: RtcSignal) => Promise<void>;
  /** `remote.send(data)`: MeteredPeer.sendTo with its checks. */
  send: (data: unknown) => Promise<void>;
  logger: Logger;
}

export class RemotePeer extends Emitter<RemotePeerEventMap> {
  /** The peer's id: server-assigned (publishable keys) or the JWT `sub`. */
  readonly id: string;
  /** The peer's `peerMetadata` from presence (untrusted; refreshed on reconcile). */
  readonly metadata?: Record<string, unknown>;
  readonly #init: RemotePeerInit;
  #link: PeerConnection | null = null;
  #state: PeerConnectionState = "idle";
  #closed = false;
  #send: (data: unknown) => Promise<void>;
  /** Inbound track metadata by track id (kept across connection resets). */
  #trackMeta = new Map<string, StreamMetadata>();
  /** Live inbound tracks per stream id, on the current connection. */
  #live = new Map<string, Set<MediaStreamTrack>>();
  /** The latest MediaStream object per stream id, and how to stop watching its `removetrack`. */
  #streams = new Map<string, { stream: MediaStream; unwatch: () => void }>();
  /** `ended` listeners of inbound tracks. */
  #ended = new Map<MediaStreamTrack, () => void>();

  /** Created by MeteredPeer only. */
  constructor(init: RemotePeerInit) {
    super();
    this.id = init.id;
    if (init.metadata !== undefined) this.metadata = init.metadata;
    this.#init = init;
    this.#send = init.send;
  }

  /** idle (nothing negotiated yet), connecting, connected, reconnecting or closed. */
  get state(): PeerConnectionState {
    return this.#state;
  }

  /** This side's perfect-negotiation role: polite iff the local peerId is lexically smaller. */
  get polite(): boolean {
    return this.#link?.polite ?? false;
  }

  /** The current RTCPeerConnection (a new one after `connection-reset`: read it again, don't keep it). */
  get pc(): RTCPeerConnectionLike {
    return (this.#link as PeerConnection).pc;
  }

  /** Sends `data` to this peer through the server (like `peer.sendTo(remote.id, data)`). */
  send(data: unknown): Promise<void> {
    return this.#send(data);
  }

  toJSON(): { id: string; state: PeerConnectionState } {
    return { id: this.id, state: this.#state };
  }

  // ---- driven by MeteredPeer ----

  /** @internal An inbound SDP / ICE signal for the current connection. */
  _handleSignal(signal: RtcSignal): Promise<void> {
    return this.#link ? this.#link.handle(signal) : Promise.resolve();
  }

  /** @internal */
  _setState(to: PeerConnectionState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.emit("state-change", { from, to });
  }

  /** @internal */
  _setMetadata(metadata: Record<string, unknown> | undefined): void {
    (this as { metadata?: Record<string, unknown> | undefined }).metadata = metadata;
  }

  /** @internal Metadata announced by the remote for one of its tracks; undefined clears it. */
  _setTrackMetadata(trackId: string, metadata: StreamMetadata | undefined): void {
    const m = this.#trackMeta;
    if (metadata === undefined) {
      m.delete(trackId);
      return;
    }
    if (!m.has(trackId) && m.size >= MAX_TRACK_METADATA) m.delete(m.keys().next().value as string);
    m.set(trackId, metadata);
  }

  /**
   * @internal Uses `pc` from now on. For a later connection (reconcile), the old one is closed
   * without `stream-removed` events and `connection-reset` is emitted once the new one is wired.
   */
  _setConnection(pc: RTCPeerConnectionLike, polite: boolean): void {
    if (this.#closed) throw new Error(`RemotePeer ${this.id} is closed`);
    const old = this.#link;
    this.#dropConnection();
    this.#link = new PeerConnection(pc, polite, this.id, this.#init.signal, {
      // During a reset the new connection's "connecting" is hidden: connected → reconnecting → connected.
      state: (to) => (this.#state === "reconnecting" && to === "connecting") || this._setState(to),
      error: (event, err) => this.emit(event, { err }),
      track: (ev) => this.#onTrack(ev),
      channel: (channel) => this.emit("data-channel", { channel }),
    }, this.#init.logger);
    if (old) this.emit("connection-reset", {});
  }

  /** @internal Closes for good (the peer left, or the MeteredPeer closed). */
  _close(): void {
    if (this.#closed) return;
    this.#dropConnection();
    this.#trackMeta.clear();
    this._setState("closed");
    this.#closed = true;
    this.#send = () => Promise.reject(new Error(`RemotePeer ${this.id} is closed`));
    this.removeAllListeners();
  }

  // ---- inbound media ----

  #onTrack({ track, streams, transceiver }: RTCTrackEvent): void {
    // Metadata is keyed by the sender's track id, which the SDP carries (see msidTrackId).
    const sent = msidTrackId(this.pc.remoteDescription?.sdp, transceiver?.mid);
    const metadata = this.#trackMeta.get(sent ?? track.id) ?? this.#trackMeta.get(track.id);
    const meta = metadata === undefined ? {} : { metadata };
    this.emit("track", { track, streams, ...meta });
    for (const stream of streams) {
      let live = this.#live.get(stream.id);
      const first = !live;
      if (!live) this.#live.set(stream.id, (live = new Set()));
      live.add(track);
      this.#watch(stream);
      if (first) this.emit("stream-added", { stream, ...meta });
    }
    if (!this.#ended.has(track)) {
      const onEnded = (): void => {
        this.#ended.delete(track);
        for (const s of streams) this.#dropTrack(s.id, track);
      };
      track.addEventListener("ended", onEnded);
      this.#ended.set(track, () => track.removeEventListener("ended", onEnded));
    }
  }

  /** Follows the stream's `removetrack` (how a receiver learns that the sender removed a track). */
  #watch(stream: MediaStream): void {
    const known = this.#streams.get(stream.id);
    if (known?.stream === stream) return;
    known?.unwatch();
    const onRemove = (ev: MediaStreamTrackEvent): void => this.#dropTrack(stream.id, ev.track);
    stream.addEventListener("removetrack", onRemove);
    this.#streams.set(stream.id, { stream, unwatch: () => stream.removeEventListener("removetrack", onRemove) });
  }

  /** Forgets a track of a stream; the stream's last live track gone → `stream-removed`. */
  #dropTrack(streamId: string, track: MediaStreamTrack): void {
    const live = this.#live.get(streamId);
    if (!live?.delete(track) || live.size > 0) return;
    this.#live.delete(streamId);
    const entry = this.#streams.get(streamId);
    this.#streams.delete(streamId);
    if (!entry) return;
    entry.unwatch();
    this.emit("stream-removed", { stream: entry.stream });
  }

  /** Closes the current connection and forgets its streams without reporting them removed. */
  #dropConnection(): void {
    this.#live.clear();
    for (const { unwatch } of this.#streams.values()) unwatch();
    this.#streams.clear();
    for (const off of this.#ended.values()) off();
    this.#ended.clear();
    this.#link?.close();
  }
}
