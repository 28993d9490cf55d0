// The pub/sub-only entry (`@parley/realtime/signalling`): SignallingClient and what it needs,
// without the WebRTC layer.
export { SignallingClient } from "./signalling-client.js";
export { SignallingConnectError, OversizedPayloadError } from "./errors.js";
export { NoopLogger, ConsoleLogger } from "./logger.js";
export { WsCloseCode, WsCloseCode as WsCloseCodeValue } from "./close-codes.js";
export type {
  MessageEvent as ChannelMessage,
  DirectMessageEvent,
  ErrorCode,
  GoingAwayEvent,
  IceServerConfig,
  LogLevel,
  Logger,
  PresenceEvent,
  PresencePeer,
  PublishOptions,
  ReconnectOptions,
  SendOptions,
  ServerErrorEvent,
  SignallingClientEventMap,
  SignallingClientOptions,
  SignallingClientState,
  SubscribeOptions,
  TokenProvider,
  WebSocketLike,
  WelcomePayload,
} from "./types.js";
