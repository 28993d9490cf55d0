// Error classes with stable `name` and fields. Messages are not part of the contract.

/** `connect()` failed because the socket closed before the server's `welcome`. */
export class SignallingConnectError extends Error {
  override readonly name = "SignallingConnectError";
  readonly closeCode: number;
  readonly closeReason: string;
  constructor(closeCode: number, closeReason: string) {
    // The server's reason text stays out of the message (it is in closeReason).
    super(`signalling connection closed before welcome (closeCode=${closeCode})`);
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

/** `publish()` / `send()` refused locally: the JSON text of `data` exceeds the server's cap. */
export class OversizedPayloadError extends Error {
  override readonly name = "OversizedPayloadError";
  readonly size: number;
  readonly cap: number;
  constructor(size: number, cap: number) {
    super(`payload ${size} bytes exceeds server cap ${cap} bytes`);
    this.size = size;
    this.cap = cap;
  }
}

/** @internal A plain Error whose `name` is set: NotConnectedError, DisconnectedError, a server error code… */
export function namedError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** @internal A copy of `err` (same name) with `?token=` / `&key=` values in its message and stack masked. */
export function scrubError(err: unknown): Error {
  const scrub = (s: string): string => s.replace(/([?&](?:token|key))=[^&\s"']*/g, "$1=***");
  if (!(err instanceof Error)) return new Error(scrub(String(err)));
  const out = namedError(err.name, scrub(err.message));
  if (typeof err.stack === "string") out.stack = scrub(err.stack);
  return out;
}

/**
 * @internal scrubError plus SDP and TURN secrets: the values of `ice-pwd:`, `ice-ufrag:` and
 * `credential:` become `:***`. For errors of the WebRTC layer, which may quote SDP.
 */
export function scrubRtcError(err: unknown): Error {
  const out = scrubError(err);
  const scrub = (s: string): string => s.replace(/(ice-pwd|ice-ufrag|credential)("?\s*:\s*"?)[^\s"',}]+/g, "$1$2***");
  out.message = scrub(out.message);
  if (typeof out.stack === "string") out.stack = scrub(out.stack);
  return out;
}
