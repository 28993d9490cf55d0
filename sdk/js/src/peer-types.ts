// Public types of the WebRTC layer (MeteredPeer, RemotePeer, DataChannel). Shapes follow the
// official SDK's declarations so application code type-checks unchanged. Uses the DOM's WebRTC
// types; the pub/sub entry (./signalling) never imports this file.
import type { RemotePeer } from "./remote-peer.js";
import type { SignallingClientOptions } from "./types.js";

export type PeerConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export type MeteredPeerState = "idle" | "joining" | "joined" | "reconnecting" | "leaving" | "closed";

/** Per-track metadata sent to the receivers (a convention; nothing is validated but the size). */
export interface StreamMetadata {
  role?: string;
  label?: string;
  [key: string]: unknown;
}

/** The subset of RTCPeerConnection the SDK uses; a browser's RTCPeerConnection fits. */
export interface RTCPeerConnectionLike {
  readonly connectionState: RTCPeerConnectionState;
  readonly signalingState: RTCSignalingState;
  readonly iceConnectionState: RTCIceConnectionState;
  readonly localDescription: RTCSessionDescription | null;
  readonly remoteDescription: RTCSessionDescription | null;
  createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>;
  createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>;
  setLocalDescription(description?: RTCSessionDescriptionInit): Promise<void>;
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void>;
  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): RTCRtpSender;
  removeTrack(sender: RTCRtpSender): void;
  getSenders(): RTCRtpSender[];
  createDataChannel(label: string, dataChannelDict?: RTCDataChannelInit): RTCDataChannel;
  setConfiguration(configuration?: RTCConfiguration): void;
  addEventListener(type: string, listener: (ev: unknown) => void): void;
  removeEventListener(type: string, listener: (ev: unknown) => void): void;
  close(): void;
}

/** The subset of RTCDataChannel the DataChannel wrapper uses. */
export interface RTCDataChannelLike {
  readonly label: string;
  readonly readyState: RTCDataChannelState;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: string | ArrayBuffer): void;
  close(): void;
  addEventListener(type: string, listener: (ev: unknown) => void): void;
  removeEventListener(type: string, listener: (ev: unknown) => void): void;
}

/** Optional log sink of the DataChannel wrapper. */
export interface PeerConnectionLogger {
  debug?(msg: string, ctx?: Record<string, unknown>): void;
  warn?(msg: string, ctx?: Record<string, unknown>): void;
  error?(msg: string, ctx?: Record<string, unknown>): void;
}

export interface DataChannelOptions {
  /** Sends wait while more than this many bytes are buffered. Default 1 MiB. */
  maxBufferedAmount?: number;
  /** Written to the channel; `bufferedamountlow` wakes waiting sends. Default maxBufferedAmount / 2. */
  bufferedAmountLowThreshold?: number;
  /** Sends allowed to wait at once; more reject with DataChannelOverflowError. Default 256. */
  maxQueuedSends?: number;
  logger?: PeerConnectionLogger;
}

export interface DataChannelEventMap {
  open: void;
  close: void;
  error: { err: Error };
  message: { data: string | ArrayBuffer };
}

export interface RemotePeerEventMap {
  "state-change": { from: PeerConnectionState; to: PeerConnectionState };
  /** Transient, except `err.name === "IceRestartExhaustedError"` (terminal: rebuild the MeteredPeer). */
  "negotiation-error": { err: Error };
  "ice-candidate-error": { err: Error };
  track: { track: MediaStreamTrack; streams: ReadonlyArray<MediaStream>; metadata?: StreamMetadata };
  "data-channel": { channel: RTCDataChannel };
  /** The first track of a stream id on the current connection; fires again after a connection reset. */
  "stream-added": { stream: MediaStream; metadata?: StreamMetadata };
  "stream-removed": { stream: MediaStream };
  /** The connection was replaced (remote.pc is the new one): re-create data channels here. */
  "connection-reset": Record<string, never>;
}

export interface MeteredPeerOptions extends SignallingClientOptions {
  /** Builds each peer connection; default `new RTCPeerConnection(config)`. `config` is `{}` or `{ iceServers }`. */
  rtcPeerConnectionFactory?: (config: RTCConfiguration) => RTCPeerConnectionLike;
}

export interface JoinOptions {
  /** Ask the server to stamp broadcasts with the sender's metadata (`senderMetadata` of `data`). */
  includeSenderMetadata?: boolean;
}

export interface MeteredPeerEventMap {
  joined: { peerId: string; channel: string };
  left: { peerId: string | null; channel: string | null; reason?: string };
  "state-change": { from: MeteredPeerState; to: MeteredPeerState };
  "peer-joined": { peer: RemotePeer };
  "peer-left": { peer: RemotePeer };
  data: {
    senderPeerId: string;
    data: unknown;
    kind: "broadcast" | "direct";
    senderMetadata?: Record<string, unknown>;
  };
  error: { err: Error };
}
