import type { Logger } from "./types.js";

const noop = (): void => {};

/** Drops everything (the default). */
export const NoopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

const toConsole =
  (level: "debug" | "info" | "warn" | "error") =>
  (msg: string, ctx?: Record<string, unknown>): void => {
    console[level]("[@parley/realtime]", msg, ctx ?? "");
  };

/** Forwards to console.debug/info/warn/error with a `[@parley/realtime]` prefix. */
export const ConsoleLogger: Logger = {
  debug: toConsole("debug"),
  info: toConsole("info"),
  warn: toConsole("warn"),
  error: toConsole("error"),
};
