// The full entry (`@parley/realtime`). Today it is the pub/sub client and the shared pieces; the
// WebRTC layer (MeteredPeer, RemotePeer, DataChannel) is added here, not in ./signalling.
export * from "./signalling.js";
