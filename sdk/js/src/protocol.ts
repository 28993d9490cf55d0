// The wire format: strict parsing of server frames (PROTOCOL.md §7), argument validation for
// client frames (§6) and the helpers around them.
import type {
  DirectMessageEvent,
  GoingAwayEvent,
  IceServerConfig,
  MessageEvent,
  PresenceEvent,
  PresencePeer,
  ServerErrorEvent,
  WelcomePayload,
} from "./types.js";

export type ServerFrame =
  | { type: "welcome"; payload: WelcomePayload }
  | { type: "ack"; requestId: string }
  | { type: "error"; payload: ServerErrorEvent }
  | { type: "message"; payload: MessageEvent }
  | { type: "direct"; payload: DirectMessageEvent }
  | { type: "presence"; payload: PresenceEvent }
  | { type: "going_away"; payload: GoingAwayEvent }
  | { type: "pong" };

type Obj = Record<string, unknown>;

export const isObject = (v: unknown): v is Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function peers(v: unknown): PresencePeer[] | null {
  if (!Array.isArray(v)) return null;
  const out: PresencePeer[] = [];
  for (const e of v) {
    if (!isObject(e) || !isString(e.peerId)) return null;
    out.push(isObject(e.metadata) ? { peerId: e.peerId, metadata: e.metadata } : { peerId: e.peerId });
  }
  return out;
}

/** Parses one text frame; null when it is malformed or of an unknown type (the caller drops it). */
export function parseServerFrame(raw: string): ServerFrame | null {
  let env: unknown;
  try {
    env = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(env)) return null;
  const { type, requestId, code, message, channel, from, fromMetadata } = env;
  const sender = isObject(fromMetadata) ? { fromMetadata } : {};
  switch (type) {
    case "welcome": {
      const { peerId, expiresAt, serverTime, maxMessageSize, metadata } = env;
      if (!isString(peerId) || !(expiresAt === null || isFiniteNumber(expiresAt)) ||
          !isFiniteNumber(serverTime) || !isFiniteNumber(maxMessageSize)) {
        return null;
      }
      const payload: WelcomePayload = { peerId, expiresAt, serverTime, maxMessageSize };
      if (isObject(metadata)) payload.metadata = metadata;
      return { type, payload };
    }
    case "ack":
      return isString(requestId) ? { type, requestId } : null;
    case "error": {
      if (!isString(code) || code === "") return null;
      const payload: ServerErrorEvent = { code };
      if (isString(requestId)) payload.requestId = requestId;
      if (isString(message)) payload.message = message;
      return { type, payload };
    }
    case "message":
      return isString(channel) && isString(from) && "data" in env
        ? { type, payload: { channel, from, data: env.data, ...sender } }
        : null;
    case "direct":
      return isString(from) && "data" in env ? { type, payload: { from, data: env.data, ...sender } } : null;
    case "presence": {
      const joined = peers(env.joined);
      const left = peers(env.left);
      return isString(channel) && joined && left ? { type, payload: { channel, joined, left } } : null;
    }
    case "going_away": {
      const r = env.retryAfterMs;
      return { type, payload: { retryAfterMs: isFiniteNumber(r) && r > 0 ? r : 1000 } };
    }
    case "pong":
      return { type };
  }
  return null;
}

// U+0000–001F, U+007F, U+0080–009F.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkName(what: string, v: unknown, max: number): void {
  if (!isString(v) || v === "") throw new TypeError(`${what} must be a non-empty string`);
  if (v.length > max) throw new TypeError(`${what} exceeds ${max}-char cap (got ${v.length})`);
  if (CONTROL.test(v)) throw new TypeError(`${what} contains control characters`);
}

export const validateChannel = (channel: unknown): void => checkName("channel", channel, 256);
export const validatePeerId = (peerId: unknown): void => checkName("peerId", peerId, 128);

/** UTF-8 length of a string without TextEncoder (a lone surrogate counts 3, like U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A request id: a UUID v4 when crypto.randomUUID exists, else 22 random base-36 characters. */
export function requestId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  let s = "";
  while (s.length < 22) s += Math.random().toString(36).slice(2);
  return s.slice(0, 22);
}

const ICE_URL = /^(stuns?|turns?):/i;
const okUrl = (u: unknown): boolean => isString(u) && u.length > 0 && u.length <= 512 && ICE_URL.test(u);

/**
 * `metadata.iceServers` from a welcome, validated all-or-nothing (at most 16 entries; `urls` a
 * string or a non-empty string array of stun/stuns/turn/turns URLs ≤ 512 chars; `username` /
 * `credential` ≤ 1024 chars, non-strings dropped). Undefined when absent or invalid.
 */
export function iceServersFrom(metadata: unknown): IceServerConfig[] | undefined {
  const list = isObject(metadata) ? metadata.iceServers : undefined;
  if (!Array.isArray(list) || list.length > 16) return undefined;
  const out: IceServerConfig[] = [];
  for (const e of list) {
    if (!isObject(e)) return undefined;
    const { urls, username, credential } = e;
    if (Array.isArray(urls) ? urls.length === 0 || !urls.every(okUrl) : !okUrl(urls)) return undefined;
    const item: IceServerConfig = { urls: urls as string | string[] };
    if (isString(username)) {
      if (username.length > 1024) return undefined;
      item.username = username;
    }
    if (isString(credential)) {
      if (credential.length > 1024) return undefined;
      item.credential = credential;
    }
    out.push(item);
  }
  return out;
}
