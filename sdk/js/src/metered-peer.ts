// MeteredPeer: joins one channel, learns the other members from presence and keeps one
// RTCPeerConnection per member, negotiated by itself (SDK.md §4, §6, §8, §9).
//
// States: idle → joining → joined ⇄ reconnecting; joining → idle (join failed); joined or
// reconnecting → closed (terminal drop, emits `left`); any → leaving → closed (close()).
// After a signalling drop the next presence frame for the channel is the roster: survivors keep
// their RemotePeer object and get a fresh connection (`connection-reset`, then `stream-added`
// again), newcomers arrive through `peer-joined`, departures leave through `peer-left`.
import { Emitter } from "./emitter.js";
import { namedError, scrubRtcError } from "./errors.js";
import { NoopLogger } from "./logger.js";
import {
  MeteredPeerOversizedError,
  MeteredPeerReplaceTrackError,
  MeteredPeerSendError,
  MeteredPeerStateError,
} from "./peer-errors.js";
import { isRtcSignal, sessionId, trackMetaOf, trackMetaPayload, TRACK_META_KEY } from "./peer-protocol.js";
import type {
  JoinOptions,
  MeteredPeerEventMap,
  MeteredPeerOptions,
  MeteredPeerState,
  RTCPeerConnectionLike,
  StreamMetadata,
} from "./peer-types.js";
import { utf8Length } from "./protocol.js";
import { RemotePeer } from "./remote-peer.js";
import { SignallingClient } from "./signalling-client.js";
import type {
  DirectMessageEvent,
  IceServerConfig,
  Logger,
  MessageEvent,
  PresenceEvent,
  PresencePeer,
  SignallingClientEventMap,
} from "./types.js";

type Timer = ReturnType<typeof setTimeout>;
type Tracked = { stream: MediaStream | undefined; metadata: StreamMetadata | undefined };

/** Prefixes the server reserves; refused locally with a typed error. */
const RESERVED_CHANNEL = /^_(metered|internal|system)\//i;
/** The server's default message cap, used until a welcome says otherwise. */
const DEFAULT_MAX_MESSAGE_SIZE = 65536;
/** Remote peers per instance (about what a browser allows in RTCPeerConnections). */
const MAX_PEERS = 256;
/** After a reconnect, time allowed to the presence roster before re-subscribing (twice), then an error. */
const RECONCILE_DEADLINE_MS = 10000;
const MAX_RECONCILE_RESUBSCRIBES = 2;
/**
 * With stable peerIds (JWT `sub`), a peer missing from the roster after our reconnect gets this
 * long to come back (a server restart reconnects everyone, one after the other) before `peer-left`.
 */
const ABSENT_GRACE_MS = 10000;
/** Close codes reported on `error`, by name. */
const FATAL_CLOSE: Record<number, string> = {
  4001: "invalid_token",
  4002: "token_expired",
  4003: "channel_not_authorized",
  4012: "account_suspended",
  4020: "admin_disconnect",
};
/** Uncorrelated server error codes reported on `error`. */
const FATAL_SERVER_CODES = ["account_suspended", "channel_not_authorized", "action_not_permitted", "invalid_token", "token_expired"];

function defaultFactory(config: RTCConfiguration): RTCPeerConnectionLike {
  const Ctor = (globalThis as { RTCPeerConnection?: new (c: RTCConfiguration) => RTCPeerConnectionLike }).RTCPeerConnection;
  if (typeof Ctor !== "function") {
    throw new Error("MeteredPeer: no globalThis.RTCPeerConnection — pass `rtcPeerConnectionFactory` (in Node, e.g. @roamhq/wrtc)");
  }
  return new Ctor(config);
}

/** A channel of WebRTC peers: presence-driven discovery, negotiation, reconnection. */
export class MeteredPeer extends Emitter<MeteredPeerEventMap> {
  readonly #client: SignallingClient;
  readonly #log: Logger;
  readonly #factory: (config: RTCConfiguration) => RTCPeerConnectionLike;
  #state: MeteredPeerState = "idle";
  #peerId: string | null = null;
  #channel: string | null = null;
  #joinOpts: JoinOptions = {};
  #iceServers: IceServerConfig[] | undefined;
  #maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  #peers = new Map<string, RemotePeer>();
  /** Local tracks sent to every peer, present and future. */
  #tracks = new Map<MediaStreamTrack, Tracked>();

  // Reconcile after a signalling drop.
  #reconcilePending = false;
  #deadline: Timer | null = null;
  #resubscribes = 0;
  /** Whether our peerId survived the last reconnect (stable ids: JWT `sub`). */
  #stableId = false;
  #absent = new Map<string, Timer>();

  constructor(opts: MeteredPeerOptions) {
    super();
    const { rtcPeerConnectionFactory, ...clientOpts } = opts ?? ({} as MeteredPeerOptions);
    if (clientOpts.autoResubscribe === false) {
      throw new TypeError("MeteredPeer: autoResubscribe: false is not supported (reconnects rely on it)");
    }
    const client = (this.#client = new SignallingClient(clientOpts));
    this.#log = clientOpts.logger ?? NoopLogger;
    this.#factory = rtcPeerConnectionFactory ?? defaultFactory;
    const on = <K extends keyof SignallingClientEventMap>(e: K, h: (p: SignallingClientEventMap[K]) => void): void =>
      void client.on(e, h);
    on("connected", (e) => this.#onConnected(e));
    on("disconnected", (e) => this.#onDisconnected(e));
    on("presence", (e) => this.#onPresence(e));
    on("direct", (e) => this.#onDirect(e));
    on("message", (e) => this.#onMessage(e));
    on("server-error", (e) => {
      if (FATAL_SERVER_CODES.includes(e.code)) this.#error(e.code, `server error: ${e.code}${e.message ? ` (${e.message})` : ""}`);
    });
    on("token-provider-error", (e) =>
      this.#error("TokenProviderError", `tokenProvider failed ${e.consecutiveFailures} times in a row: ${e.err.message}`),
    );
  }

  get state(): MeteredPeerState {
    return this.#state;
  }

  /** This peer's id from the latest welcome (a new one per connection with publishable keys). */
  get peerId(): string | null {
    return this.#peerId;
  }

  get channel(): string | null {
    return this.#channel;
  }

  /** The other members of the channel (a copy). */
  get remotePeers(): RemotePeer[] {
    return [...this.#peers.values()];
  }

  /** Never the credential. */
  toJSON(): { state: MeteredPeerState; peerId: string | null; channel: string | null } {
    return { state: this.#state, peerId: this.#peerId, channel: this.#channel };
  }

  // ---- lifecycle ----

  /**
   * Connects (if needed) and subscribes to `channel`; resolves on the server's ack. Peers then
   * arrive through `peer-joined`. Only from `idle`; after a failure the instance is `idle` again.
   */
  async join(channel: string, opts: JoinOptions = {}): Promise<void> {
    if (this.#state !== "idle") throw this.#stateError("join");
    if (RESERVED_CHANNEL.test(channel)) {
      throw new MeteredPeerSendError("reserved_channel", `channel '${channel}' uses a reserved prefix`);
    }
    this.#setState("joining");
    const client = this.#client;
    try {
      if (client.state === "idle" || client.state === "closed") await client.connect();
      this.#joinOpts = { ...opts };
      await client.subscribe(channel, opts);
      this.#channel = channel;
      this.#setState("joined");
      if (this.#peerId !== null) this.emit("joined", { peerId: this.#peerId, channel });
    } catch (err) {
      // Forget the subscription so no reconnect replays it.
      client.unsubscribe(channel).catch(() => {});
      if (this.state === "joining") this.#setState("idle");
      throw err;
    }
  }

  /** Leaves for good: every remote goes (`peer-left`), the connection closes, then `left`. */
  async close(reason?: string): Promise<void> {
    const state = this.#state;
    if (state === "leaving") return; // called from a handler during close()
    if (state === "closed" || state === "idle") {
      this.#setState("closed");
      await this.#client.close();
      return;
    }
    this.#setState("leaving");
    this.#stopReconcile();
    for (const id of [...this.#peers.keys()]) this.#removePeer(id);
    this.#tracks.clear();
    const peerId = this.#peerId;
    const channel = this.#channel;
    await this.#client.close();
    this.#channel = null;
    this.#setState("closed");
    this.emit("left", { peerId, channel, ...(reason === undefined ? {} : { reason }) });
  }

  // ---- server-routed data ----

  /** Broadcasts `data` to the channel (not echoed to this peer). */
  send(data: unknown): Promise<void> {
    const err = this.#checkSend(null, data);
    return err ? Promise.reject(err) : this.#client.publish(this.#channel as string, data);
  }

  /** Sends `data` to one peer through the server. */
  sendTo(peerId: string, data: unknown): Promise<void> {
    const err = this.#checkSend(peerId, data);
    if (err) return Promise.reject(err);
    if (isRtcSignal(data) || (typeof data === "object" && data !== null && TRACK_META_KEY in data)) {
      this.#log.warn("sendTo: payload looks like an SDK control message; the receiver will not see it as data", {
        toPeerId: peerId,
      });
    }
    return this.#client.send(peerId, data);
  }

  // ---- local media ----

  /** Sends every track of `stream` to every peer, now and later (each track gets a copy of `metadata`). */
  addStream(stream: MediaStream, metadata?: StreamMetadata): void {
    this.#checkActive("addStream");
    for (const track of stream.getTracks()) this.addTrack(track, stream, metadata && { ...metadata });
  }

  removeStream(stream: MediaStream): void {
    this.#checkActive("removeStream");
    for (const track of stream.getTracks()) this.removeTrack(track);
  }

  /**
   * Sends `track` to every peer, now and later; with `stream`, receivers get `stream-added`.
   * Adding the same track and stream again does nothing (the first metadata stays).
   */
  addTrack(track: MediaStreamTrack, stream?: MediaStream, metadata?: StreamMetadata): void {
    this.#checkActive("addTrack");
    const known = this.#tracks.get(track);
    if (known) {
      if (known.stream === stream) return;
      throw new MeteredPeerStateError("track_already_attached", "addTrack", "track already added with another stream");
    }
    if (metadata !== undefined) {
      const err = this.#sizeError(trackMetaPayload(track.id, metadata));
      if (err) throw err;
    }
    const entry: Tracked = { stream, metadata };
    this.#tracks.set(track, entry);
    if (this.#state === "joined") for (const remote of this.#peers.values()) this.#attach(remote, track, entry);
  }

  /** Stops sending `track` to every peer. */
  removeTrack(track: MediaStreamTrack): void {
    this.#checkActive("removeTrack");
    const entry = this.#tracks.get(track);
    if (!entry) return;
    this.#tracks.delete(track);
    if (this.#state !== "joined") return;
    for (const remote of this.#peers.values()) {
      if (entry.metadata !== undefined) this.#sendTrackMeta(remote.id, track.id);
      const sender = remote.pc.getSenders().find((s) => s.track === track);
      if (sender) remote.pc.removeTrack(sender);
    }
  }

  /**
   * Replaces `oldTrack` by `newTrack` (null: send nothing) on every peer without renegotiation
   * (same kind and codec). Rejects with MeteredPeerReplaceTrackError if some peers failed.
   */
  async replaceTrack(oldTrack: MediaStreamTrack, newTrack: MediaStreamTrack | null): Promise<void> {
    if (this.#state === "reconnecting") throw this.#stateError("replaceTrack");
    this.#checkActive("replaceTrack");
    if (oldTrack == null) throw new TypeError("replaceTrack: oldTrack must be a MediaStreamTrack");
    // Only peers that actually send oldTrack count (the official SDK counted every peer).
    const targets = [...this.#peers.values()].flatMap((remote) => {
      const sender = remote.pc.getSenders().find((s) => s.track === oldTrack);
      return sender ? [{ id: remote.id, sender }] : [];
    });
    const results = await Promise.allSettled(targets.map((t) => t.sender.replaceTrack(newTrack)));
    const succeeded: string[] = [];
    const failed: { peerId: string; err: Error }[] = [];
    results.forEach((r, i) => {
      const peerId = (targets[i] as { id: string }).id;
      if (r.status === "fulfilled") succeeded.push(peerId);
      else failed.push({ peerId, err: scrubRtcError(r.reason) });
    });
    const entry = this.#tracks.get(oldTrack);
    if (entry && (succeeded.length > 0 || targets.length === 0)) {
      // Keep the tracked set in line with what is sent, so later peers and resets get newTrack.
      this.#tracks.delete(oldTrack);
      if (newTrack) this.#tracks.set(newTrack, entry);
      if (entry.metadata !== undefined) {
        for (const id of succeeded) {
          this.#sendTrackMeta(id, oldTrack.id);
          if (newTrack) this.#sendTrackMeta(id, newTrack.id, entry.metadata);
        }
      }
    }
    if (failed.length > 0) throw new MeteredPeerReplaceTrackError(succeeded, failed);
  }

  /** The metadata given with a local track, if any. */
  getTrackMetadata(track: MediaStreamTrack): StreamMetadata | undefined {
    return this.#tracks.get(track)?.metadata;
  }

  /** The metadata of the first added track of `stream`. */
  getStreamMetadata(stream: MediaStream): StreamMetadata | undefined {
    for (const track of stream.getTracks()) {
      const entry = this.#tracks.get(track);
      if (entry) return entry.metadata;
    }
    return undefined;
  }

  // ---- signalling events ----

  #onConnected(e: SignallingClientEventMap["connected"]): void {
    this.#stableId = e.peerId === this.#peerId;
    this.#peerId = e.peerId;
    // A welcome without iceServers keeps the previous ones (an explicit [] replaces them).
    this.#iceServers = e.iceServers ?? this.#iceServers;
    this.#maxMessageSize = e.maxMessageSize;
    if (!e.isReconnect || this.#state !== "reconnecting") return;
    if (this.#peers.size === 0) {
      // Nobody to reconcile: members that came meanwhile arrive as presence like any other.
      this.#stopReconcile();
      this.#setState("joined");
      return;
    }
    this.#reconcilePending = true;
    this.#resubscribes = 0;
    this.#armDeadline();
  }

  #onDisconnected(e: SignallingClientEventMap["disconnected"]): void {
    const state = this.#state;
    if (state === "closed" || state === "leaving") return;
    const fatal = FATAL_CLOSE[e.code];
    if (state === "joining") {
      // join() rejects with this drop; stop the client so it does not reconnect for nothing.
      if (fatal) this.#error(fatal, `connection closed (code ${e.code})`);
      if (e.willReconnect) void this.#client.close();
      return;
    }
    if (e.willReconnect && (state === "joined" || state === "reconnecting")) {
      // Keep every RemotePeer; the roster after the reconnect decides. Remotes that never
      // negotiated (idle) stay idle.
      this.#clearDeadline();
      this.#clearAbsent();
      this.#reconcilePending = true;
      for (const remote of this.#peers.values()) {
        if (remote.state === "connecting" || remote.state === "connected") remote._setState("reconnecting");
      }
      this.#setState("reconnecting");
      return;
    }
    if (!e.willReconnect && fatal) this.#error(fatal, `connection closed (code ${e.code})`);
    if (e.willReconnect) void this.#client.close();
    this.#stopReconcile();
    for (const id of [...this.#peers.keys()]) this.#removePeer(id);
    const peerId = this.#peerId;
    const channel = this.#channel;
    this.#channel = null;
    this.#setState("closed");
    this.emit("left", { peerId, channel, reason: e.reason || `disconnected (code ${e.code})` });
  }

  #onPresence(e: PresenceEvent): void {
    if (e.channel !== this.#channel) return;
    if (this.#reconcilePending) {
      this.#stopReconcile();
      this.#reconcile(e.joined);
      return;
    }
    for (const p of e.joined) {
      const remote = this.#peers.get(p.peerId);
      if (remote && this.#absent.has(p.peerId)) this.#revive(remote, p);
      else this.#addPeer(p);
    }
    for (const p of e.left) this.#removePeer(p.peerId);
  }

  #onDirect(e: DirectMessageEvent): void {
    const remote = this.#peers.get(e.from);
    const { data } = e;
    if (isRtcSignal(data)) {
      // Signals from a peer not (yet) seen in presence are dropped, as the official SDK does.
      if (!remote) return;
      if (data.type === "rtc-description" && data.description.type === "offer") {
        // An offer from another RTCPeerConnection than the one we talk to: the remote rebuilt its
        // connection (its reconnect, which we may not have seen). Rebuild ours to match.
        const current = sessionId(remote.pc.remoteDescription?.sdp);
        if (current && current !== sessionId(data.description.sdp)) {
          this.#log.info("remote peer restarted its connection; resetting ours", { peerId: remote.id });
          this.#renew(remote);
        }
      }
      void remote._handleSignal(data);
      return;
    }
    const meta = trackMetaOf(data);
    if (meta) {
      remote?._setTrackMetadata(meta.trackId, meta.metadata);
      return;
    }
    if (!remote) {
      this.#log.debug("dropping a direct message from a peer outside the channel", { from: e.from });
      return;
    }
    this.#emitData(e, "direct");
  }

  #onMessage(e: MessageEvent): void {
    if (e.channel === this.#channel && e.from !== this.#peerId) this.#emitData(e, "broadcast");
  }

  #emitData(e: DirectMessageEvent, kind: "direct" | "broadcast"): void {
    this.emit("data", {
      senderPeerId: e.from,
      data: e.data,
      kind,
      ...(e.fromMetadata === undefined ? {} : { senderMetadata: e.fromMetadata }),
    });
  }

  // ---- peers ----

  #addPeer({ peerId, metadata }: PresencePeer): void {
    if (peerId === this.#peerId || this.#peers.has(peerId) || this.#peerId === null) return;
    if (this.#peers.size >= MAX_PEERS) {
      this.#log.warn("peer cap reached; ignoring a member", { peerId, cap: MAX_PEERS });
      return;
    }
    const remote = new RemotePeer({
      id: peerId,
      ...(metadata === undefined ? {} : { metadata }),
      signal: (payload) => this.#client.send(peerId, payload),
      send: (data) => this.sendTo(peerId, data),
      logger: this.#log,
    });
    remote._setConnection(this.#newConnection(), this.#peerId < peerId);
    this.#peers.set(peerId, remote);
    this.#attachAll(remote);
    this.emit("peer-joined", { peer: remote });
  }

  #removePeer(peerId: string): void {
    const remote = this.#peers.get(peerId);
    clearTimeout(this.#absent.get(peerId));
    this.#absent.delete(peerId);
    if (!remote) return;
    this.#peers.delete(peerId);
    remote._close();
    this.emit("peer-left", { peer: remote });
  }

  /** A fresh connection inside the same RemotePeer, with the latest ICE servers and every local track. */
  #renew(remote: RemotePeer): void {
    if (remote.state === "connecting" || remote.state === "connected") remote._setState("reconnecting");
    remote._setConnection(this.#newConnection(), (this.#peerId as string) < remote.id);
    this.#attachAll(remote);
  }

  #revive(remote: RemotePeer, p: PresencePeer): void {
    clearTimeout(this.#absent.get(p.peerId));
    this.#absent.delete(p.peerId);
    remote._setMetadata(p.metadata);
    this.#renew(remote);
  }

  /** Applies the first roster after a reconnect (see the file header). */
  #reconcile(joined: PresencePeer[]): void {
    const roster = new Map<string, PresencePeer>();
    for (const p of joined) if (p.peerId !== this.#peerId && !roster.has(p.peerId)) roster.set(p.peerId, p);
    for (const id of [...this.#peers.keys()]) {
      if (this.#state !== "reconnecting") return; // close() from a handler
      if (roster.has(id)) continue;
      if (!this.#stableId) this.#removePeer(id);
      else if (!this.#absent.has(id)) this.#absent.set(id, setTimeout(() => this.#removePeer(id), ABSENT_GRACE_MS));
    }
    for (const p of roster.values()) {
      if (this.#state !== "reconnecting") return;
      const remote = this.#peers.get(p.peerId);
      try {
        if (remote) {
          this.#absent.delete(p.peerId);
          remote._setMetadata(p.metadata);
          this.#renew(remote);
        } else {
          this.#addPeer(p);
        }
      } catch (err) {
        // One peer's failure must not leave the others on their old connections.
        this.#log.warn("reconcile: resetting a peer failed", { peerId: p.peerId, err: String(err) });
      }
    }
    if (this.#state === "reconnecting") this.#setState("joined");
  }

  #newConnection(): RTCPeerConnectionLike {
    return this.#factory(this.#iceServers ? { iceServers: this.#iceServers } : {});
  }

  /** Sends every local track (metadata first, so it arrives before the offer carrying the track). */
  #attachAll(remote: RemotePeer): void {
    for (const [track, entry] of this.#tracks) this.#attach(remote, track, entry);
  }

  #attach(remote: RemotePeer, track: MediaStreamTrack, { stream, metadata }: Tracked): void {
    if (metadata !== undefined) this.#sendTrackMeta(remote.id, track.id, metadata);
    if (stream) remote.pc.addTrack(track, stream);
    else remote.pc.addTrack(track);
  }

  #sendTrackMeta(peerId: string, trackId: string, metadata?: StreamMetadata): void {
    this.#client.send(peerId, trackMetaPayload(trackId, metadata)).catch((err: unknown) =>
      this.#log.warn("track metadata send failed", { peerId, trackId, err: String(err) }),
    );
  }

  // ---- reconcile deadline ----

  #armDeadline(): void {
    this.#clearDeadline();
    this.#deadline = setTimeout(() => {
      this.#deadline = null;
      const channel = this.#channel;
      if (!this.#reconcilePending || this.#state !== "reconnecting" || this.#client.state !== "connected" || !channel) return;
      if (this.#resubscribes++ < MAX_RECONCILE_RESUBSCRIBES) {
        this.#log.warn("no presence roster after reconnect; subscribing again", { channel });
        this.#client.subscribe(channel, this.#joinOpts).catch(() => {});
        this.#armDeadline();
      } else {
        this.#error("ReconcileTimeoutError", "no presence roster after reconnect: close() and create a new MeteredPeer");
      }
    }, RECONCILE_DEADLINE_MS);
  }

  #clearDeadline(): void {
    clearTimeout(this.#deadline ?? undefined);
    this.#deadline = null;
  }

  #clearAbsent(): void {
    for (const t of this.#absent.values()) clearTimeout(t);
    this.#absent.clear();
  }

  #stopReconcile(): void {
    this.#reconcilePending = false;
    this.#clearDeadline();
  }

  // ---- checks and helpers ----

  /** Why send (peerId null) or sendTo may not go out, in the official SDK's order; null if it may. */
  #checkSend(peerId: string | null, data: unknown): Error | null {
    const fail = (code: MeteredPeerSendError["code"], message: string): Error => new MeteredPeerSendError(code, message);
    if (this.#state !== "joined" || this.#channel === null) return fail("not_joined", `not joined (state '${this.#state}')`);
    if (peerId !== null && (typeof peerId !== "string" || !peerId)) return fail("invalid_args", "peerId must be a non-empty string");
    if (data === undefined) return fail("invalid_args", "data must not be undefined");
    if (peerId === this.#peerId) return fail("self_send", "cannot send to self");
    return this.#sizeError(data);
  }

  #sizeError(data: unknown): MeteredPeerOversizedError | null {
    let text: string | undefined;
    try {
      text = JSON.stringify(data);
    } catch {
      return null; // not serialisable: the client reports it
    }
    const size = typeof text === "string" ? utf8Length(text) : 0;
    return size > this.#maxMessageSize ? new MeteredPeerOversizedError(size, this.#maxMessageSize) : null;
  }

  #checkActive(method: string): void {
    if (this.#state === "leaving" || this.#state === "closed") throw this.#stateError(method);
  }

  #stateError(method: string): MeteredPeerStateError {
    return new MeteredPeerStateError("invalid_state", method, `${method}: invalid in state '${this.#state}'`, this.#state);
  }

  #error(name: string, message: string): void {
    this.emit("error", { err: namedError(name, message) });
  }

  #setState(to: MeteredPeerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.emit("state-change", { from, to });
  }
}
