// Public types shared by every entry point. Shapes follow the wire protocol (PROTOCOL.md §6-§7)
// and the official SDK's declarations, so code written against @metered-ca/realtime type-checks
// unchanged.

/** Resolves a fresh connection JWT; called before every connection attempt. */
export type TokenProvider = () => Promise<string>;

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, ctx?: Record<string, unknown>): void;
  info(msg: string, ctx?: Record<string, unknown>): void;
  warn(msg: string, ctx?: Record<string, unknown>): void;
  error(msg: string, ctx?: Record<string, unknown>): void;
}

export interface SubscribeOptions {
  /** Ask the server to stamp each broadcast with the sender's `peerMetadata`. Default false. */
  includeSenderMetadata?: boolean;
}

export type PublishOptions = Record<string, never>;
export type SendOptions = Record<string, never>;

export interface WelcomePayload {
  peerId: string;
  /** Unix seconds at which the JWT expires; null for publishable keys. */
  expiresAt: number | null;
  serverTime: number;
  maxMessageSize: number;
  metadata?: Record<string, unknown>;
}

export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** A channel broadcast (server frame `message`). Exported as `ChannelMessage`. */
export interface MessageEvent {
  channel: string;
  from: string;
  fromMetadata?: Record<string, unknown>;
  data: unknown;
}

/** A direct message (server frame `direct`). */
export interface DirectMessageEvent {
  from: string;
  fromMetadata?: Record<string, unknown>;
  data: unknown;
}

export interface PresencePeer {
  peerId: string;
  metadata?: Record<string, unknown>;
}

export interface PresenceEvent {
  channel: string;
  joined: PresencePeer[];
  left: PresencePeer[];
}

/** Error codes a server may send in `error` frames; the union is open, branch with equality. */
export type ErrorCode =
  | "malformed_message"
  | "unknown_type"
  | "invalid_channel"
  | "invalid_peer_id"
  | "channel_not_authorized"
  | "channel_reserved"
  | "channel_limit_exceeded"
  | "peer_not_found"
  | "missing_data"
  | "action_not_permitted"
  | "over_message_quota"
  | "payload_too_large"
  | "backend_error"
  | "internal_error";

export interface ServerErrorEvent {
  requestId?: string;
  code: ErrorCode | (string & {});
  message?: string;
}

export interface GoingAwayEvent {
  retryAfterMs: number;
}

export interface ReconnectOptions {
  /** First delay in ms. Default 500. */
  initialDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Cap in ms. Default 30000. */
  maxDelayMs?: number;
  /** Symmetric jitter as a fraction of the delay. Default 0.2 (±20 %). */
  jitterRatio?: number;
  /** Attempts before giving up (then `disconnected` with willReconnect false). Default 100; Infinity retries forever. */
  maxAttempts?: number;
}

/** The subset of the WebSocket interface the client uses; a browser or `ws` WebSocket fits. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "message" | "error", listener: (ev: unknown) => void): void;
  removeEventListener(type: "open" | "close" | "message" | "error", listener: (ev: unknown) => void): void;
}

export interface SignallingClientOptions {
  /** A publishable key (sent as `?key=`). Exactly one of apiKey / tokenProvider. */
  apiKey?: string;
  /** Resolves a JWT (sent as `?token=`) before every connection attempt. */
  tokenProvider?: TokenProvider;
  /** Server origin, e.g. `wss://parley.example.com` or `ws://localhost:8080`. The SDK appends `/v1`. */
  url?: string;
  /** Time allowed to `tokenProvider()`; finite and > 0. Default 10000. */
  tokenProviderTimeoutMs?: number;
  logger?: Logger;
  /** Backoff knobs, or `false` for a one-shot connection. */
  reconnect?: ReconnectOptions | false;
  /** Close and reconnect after this long without an inbound frame. Default 60000; <= 0 or non-finite disables (and the keepalive with it). */
  inactivityTimeoutMs?: number;
  /** Re-subscribe remembered channels after each reconnect. Default true. */
  autoResubscribe?: boolean;
  /** Builds the socket; defaults to `new globalThis.WebSocket(url)`. Needed on Node < 22 (e.g. the `ws` package). */
  webSocketFactory?: (url: string) => WebSocketLike;
}

export type SignallingClientState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export interface SignallingClientEventMap {
  connected: {
    peerId: string;
    serverTime: number;
    expiresAt: number | null;
    isReconnect: boolean;
    maxMessageSize: number;
    iceServers?: IceServerConfig[];
  };
  disconnected: { code: number; reason: string; willReconnect: boolean };
  "state-change": { from: SignallingClientState; to: SignallingClientState };
  message: MessageEvent;
  direct: DirectMessageEvent;
  presence: PresenceEvent;
  "server-error": ServerErrorEvent;
  "going-away": GoingAwayEvent;
  "token-provider-error": { consecutiveFailures: number; err: Error };
}
