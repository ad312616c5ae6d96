import type { DestinationStream, Logger, LoggerOptions, pino } from "pino";
import { textLogStream } from "./text-stream.js";
import { scrubLine, secretsFromEnv } from "./redact.js";

// What every digesta logger is made of, without pino itself: the command line loads pino only when it writes a line
// (deferred-logger.ts), the app and the Action import it as usual (logger.ts).

/** Header names whose values are secrets, lowercase: HTTP credentials, cookies, webhook signatures, digesta's own. */
export const SECRET_HEADERS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-digesta-secret",
  "x-hub-signature",
  "x-hub-signature-256",
  "x-api-key",
  "x-auth-token",
  "x-registry-auth",
  "private-token",
];

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
  ...SECRET_HEADERS.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]),
];

/**
 * Pino options shared by every digesta logger: known paths redacted, and every line scrubbed as a whole before it is
 * written (secret headers at any depth, the environment's secrets, URL userinfo, Authorization values inside
 * messages), so that a secret is never written at any level, whoever logged it: Probot's request logger included.
 */
export function safeLoggerOptions(env: NodeJS.ProcessEnv = process.env): LoggerOptions {
  const secrets = secretsFromEnv(env);
  return {
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    hooks: { streamWrite: (line: string) => scrubLine(line, secrets, SECRET_HEADERS) },
  };
}

/** A logger from `factory` (pino) to stderr, or to `destination`: JSON lines, or with `text` one readable line per entry. */
export function stderrLogger(factory: typeof pino, level: string, format: "json" | "text", destination?: DestinationStream): Logger {
  const options = { level, ...safeLoggerOptions() };
  if (destination) return factory(options, destination);
  return format === "text" ? factory(options, textLogStream(2)) : factory(options, factory.destination(2));
}
