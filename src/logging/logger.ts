import { pino, type Logger } from "pino";
import { textLogStream } from "./text-stream.js";

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

/**
 * A pino logger writing to stderr (stdout is for results), at `LOG_LEVEL` (default `warn`): JSON lines, or with
 * `text` one readable line per entry (secrets are redacted before either is written).
 */
export function createLogger(level: string = process.env["LOG_LEVEL"] ?? "warn", format: "json" | "text" = "json"): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return format === "text" ? pino(options, textLogStream(2)) : pino(options, pino.destination(2));
}
