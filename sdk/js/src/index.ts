// The full entry (`@parley/realtime`): the pub/sub client and the WebRTC layer (MeteredPeer,
// RemotePeer, DataChannel). The pub/sub-only entry is ./signalling.
export * from "./signalling.js";
export { MeteredPeer } from "./metered-peer.js";
export { RemotePeer } from "./remote-peer.js";
export { DataChannel } from "./data-channel.js";
export {
  DataChannelOverflowError,
  MeteredPeerOversizedError,
  MeteredPeerReplaceTrackError,
  MeteredPeerSendError,
  MeteredPeerStateError,
} from "./peer-errors.js";
export type {
  DataChannelEventMap,
  DataChannelOptions,
  JoinOptions,
  MeteredPeerEventMap,
  MeteredPeerOptions,
  MeteredPeerState,
  PeerConnectionLogger,
  PeerConnectionState,
  RemotePeerEventMap,
  RTCDataChannelLike,
  RTCPeerConnectionLike,
  StreamMetadata,
} from "./peer-types.js";
