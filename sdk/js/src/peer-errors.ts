// Error classes of the WebRTC layer, with the official SDK's names, codes and fields (SDK.md §1.5).
// Messages are not part of the contract.

/** `send`/`sendTo`/`addTrack` refused locally: the JSON of the payload exceeds the server's cap. */
export class MeteredPeerOversizedError extends Error {
  override readonly name = "MeteredPeerOversizedError";
  readonly size: number;
  readonly cap: number;
  constructor(size: number, cap: number) {
    super(`payload ${size} bytes exceeds server cap ${cap} bytes`);
    this.size = size;
    this.cap = cap;
  }
}

export class MeteredPeerSendError extends Error {
  override readonly name = "MeteredPeerSendError";
  readonly code: "reserved_channel" | "not_joined" | "invalid_args" | "self_send";
  constructor(code: MeteredPeerSendError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** A method called in a state that does not allow it (`invalid_state`), or a track added twice. */
export class MeteredPeerStateError extends Error {
  override readonly name = "MeteredPeerStateError";
  readonly code: "invalid_state" | "track_already_attached";
  readonly method: string;
  // `declare`: no own property unless a state was passed.
  declare readonly currentState?: string;
  constructor(code: MeteredPeerStateError["code"], method: string, message: string, currentState?: string) {
    super(message);
    this.code = code;
    this.method = method;
    if (currentState !== undefined) this.currentState = currentState;
  }
}

/** `replaceTrack` failed on some peers: `succeeded` now send the new track, `failed` the old one. */
export class MeteredPeerReplaceTrackError extends Error {
  override readonly name = "MeteredPeerReplaceTrackError";
  readonly succeeded: readonly string[];
  readonly failed: ReadonlyArray<{ peerId: string; err: Error }>;
  constructor(succeeded: readonly string[], failed: ReadonlyArray<{ peerId: string; err: Error }>) {
    super(`replaceTrack failed for ${failed.length} of ${succeeded.length + failed.length} peer(s)`);
    this.succeeded = succeeded;
    this.failed = failed;
  }
}

/** `DataChannel.send` refused: `cap` sends are already waiting. */
export class DataChannelOverflowError extends Error {
  override readonly name = "DataChannelOverflowError";
  readonly queued: number;
  readonly cap: number;
  constructor(queued: number, cap: number) {
    super(`DataChannel send queue full (${queued}/${cap})`);
    this.queued = queued;
    this.cap = cap;
  }
}
