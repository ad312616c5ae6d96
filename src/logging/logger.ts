import { pino, type DestinationStream, type Logger } from "pino";
import { stderrLogger } from "./logger-options.js";

export type { Logger } from "pino";
export { REDACTED_PATHS, SECRET_HEADERS, safeLoggerOptions } from "./logger-options.js";

/**
 * A pino logger writing to stderr (stdout is for results), at `LOG_LEVEL` (default `warn`): JSON lines, or with
 * `text` one readable line per entry (secrets are redacted before either is written).
 */
export function createLogger(
  level: string = process.env["LOG_LEVEL"] ?? "warn",
  format: "json" | "text" = "json",
  destination?: DestinationStream,
): Logger {
  return stderrLogger(pino, level, format, destination);
}
