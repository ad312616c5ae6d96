import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/** Paths that may hold secrets in anything we log; pino replaces them before a line is written. */
export const REDACTED_PATHS = [
  "password",
  "token",
  "auth",
  "authorization",
  "secret",
  "*.password",
  "*.token",
  "*.auth",
  "*.authorization",
  "*.secret",
  "headers.authorization",
  "*.headers.authorization",
];

/** A pino logger writing JSON lines to stderr (stdout is for results), at `LOG_LEVEL` (default `warn`). */
export function createLogger(level: string = process.env["LOG_LEVEL"] ?? "warn"): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, pino.destination(2));
}
