// The peer-to-peer signalling payloads carried in `send`/`direct` frames (SDK.md §6,
// PROTOCOL.md Appendix A): building them byte-compatible with the official SDK, and classifying
// what arrives.
import { isObject } from "./protocol.js";
import type { StreamMetadata } from "./peer-types.js";

/** @internal The reserved key of track-metadata control messages. */
export const TRACK_META_KEY = "__meteredTrackMeta";

export type RtcSignal =
  | { type: "rtc-description"; description: RTCSessionDescriptionInit }
  | { type: "rtc-ice"; candidate: RTCIceCandidateInit | null };

/** @internal */
export type TrackMeta = { trackId: string; metadata?: StreamMetadata };

/**
 * @internal True for `{type:"rtc-description", description:{type:"offer"|"answer", sdp:string}}` and
 * `{type:"rtc-ice", candidate:object|null}`; extra keys are tolerated.
 */
export function isRtcSignal(data: unknown): data is RtcSignal {
  if (!isObject(data)) return false;
  if (data.type === "rtc-description") {
    const d = data.description;
    return isObject(d) && (d.type === "offer" || d.type === "answer") && typeof d.sdp === "string";
  }
  return data.type === "rtc-ice" && (data.candidate === null || isObject(data.candidate));
}

/** @internal The content of a track-metadata message (set: with `metadata`, clear: without), else null. */
export function trackMetaOf(data: unknown): TrackMeta | null {
  const m = isObject(data) ? data[TRACK_META_KEY] : undefined;
  if (!isObject(m) || typeof m.trackId !== "string" || m.trackId === "") return null;
  if (m.metadata !== undefined && !isObject(m.metadata)) return null;
  return m as TrackMeta;
}

/** @internal `{"__meteredTrackMeta":{"trackId":…,"metadata":…}}`, or the clear form without `metadata`. */
export const trackMetaPayload = (trackId: string, metadata?: StreamMetadata): object => ({
  [TRACK_META_KEY]: metadata === undefined ? { trackId } : { trackId, metadata },
});

/** @internal `{"type":"rtc-description","description":{"type":…,"sdp":…}}` (only these two keys). */
export const descriptionPayload = (d: { type: RTCSdpType; sdp: string }): RtcSignal => ({
  type: "rtc-description",
  description: { type: d.type, sdp: d.sdp },
});

/** @internal */
type CandidateLike = {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
  toJSON?: () => RTCIceCandidateInit;
};

/** @internal `{"type":"rtc-ice","candidate":<RTCIceCandidate.toJSON()>}`, or `candidate: null` at the end. */
export function icePayload(c: CandidateLike | null | undefined): RtcSignal {
  const candidate = !c
    ? null
    : typeof c.toJSON === "function"
      ? c.toJSON()
      : {
          candidate: c.candidate,
          sdpMid: c.sdpMid ?? null,
          sdpMLineIndex: c.sdpMLineIndex ?? null,
          usernameFragment: c.usernameFragment ?? null,
        };
  return { type: "rtc-ice", candidate };
}

/**
 * @internal The session id of an SDP (`o=<user> <sess-id> …`). It stays the same for every offer of one
 * RTCPeerConnection, renegotiations and ICE restarts included, and differs for a new one.
 */
export function sessionId(sdp: string | undefined): string | undefined {
  return sdp ? /^o=\S+ (\S+)/m.exec(sdp)?.[1] : undefined;
}

/**
 * @internal The sender's track id of the m-section `mid` (its `a=msid:<stream> <track>` line). A receiving
 * track's own id may differ (a transceiver created by our addTrack and then matched to the remote
 * offer keeps its local id), while track metadata is keyed by the sender's id.
 */
export function msidTrackId(sdp: string | undefined, mid: string | null | undefined): string | undefined {
  if (!sdp || mid == null) return undefined;
  for (const section of sdp.split("\nm=")) {
    const lines = section.split(/\r?\n/);
    if (lines.includes(`a=mid:${mid}`)) return lines.map((l) => /^a=msid:\S+ (\S+)/.exec(l)?.[1]).find(Boolean);
  }
  return undefined;
}
