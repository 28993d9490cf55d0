/** WebSocket close codes with a meaning for the client (a plain object, not an enum). */
export const WsCloseCode = {
  GoingAway: 1001,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  /** Sent by the client itself (inactivity watchdog, welcome timeout); never by the server. */
  ClientInactivity: 4000,
  InvalidToken: 4001,
  TokenExpired: 4002,
  ChannelNotAuthorized: 4003,
  OverConcurrentLimit: 4010,
  OverMessageRate: 4011,
  AccountSuspended: 4012,
  AdminDisconnect: 4020,
} as const;

export type WsCloseCode = (typeof WsCloseCode)[keyof typeof WsCloseCode];
