import { pino, type DestinationStream, type Logger } from "pino";
import { textLogStream } from "./text-stream.js";
import { scrubLine, secretsFromEnv } from "./redact.js";

export type { Logger } from "pino";

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
export function safeLoggerOptions(env: NodeJS.ProcessEnv = process.env): pino.LoggerOptions {
  const secrets = secretsFromEnv(env);
  return {
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    hooks: { streamWrite: (line: string) => scrubLine(line, secrets, SECRET_HEADERS) },
  };
}

/**
 * A pino logger writing to stderr (stdout is for results), at `LOG_LEVEL` (default `warn`): JSON lines, or with
 * `text` one readable line per entry (secrets are redacted before either is written).
 */
export function createLogger(
  level: string = process.env["LOG_LEVEL"] ?? "warn",
  format: "json" | "text" = "json",
  destination?: DestinationStream,
): Logger {
  const options = { level, ...safeLoggerOptions() };
  if (destination) return pino(options, destination);
  return format === "text" ? pino(options, textLogStream(2)) : pino(options, pino.destination(2));
}

/**
 * The app's logger, as Probot would make it (`LOG_LEVEL`, `LOG_FORMAT`, `LOG_LEVEL_IN_STRING`, `LOG_MESSAGE_KEY`,
 * `SENTRY_DSN`; stdout), with digesta's redaction: handed to Probot, it is also the logger of its HTTP requests.
 */
export async function createAppLogger(
  env: NodeJS.ProcessEnv = process.env,
  destination: NodeJS.WritableStream = pino.destination(1) as unknown as NodeJS.WritableStream,
): Promise<Logger> {
  const { getTransformStream } = await import("@probot/pino");
  const logFormat = env["LOG_FORMAT"] ? (env["LOG_FORMAT"] === "pretty" ? "pretty" : "json") : env["NODE_ENV"] === "production" ? "json" : "pretty";
  const transform = await getTransformStream({
    logFormat,
    logLevelInString: env["LOG_LEVEL_IN_STRING"] === "true",
    ...(env["SENTRY_DSN"] ? { sentryDsn: env["SENTRY_DSN"] } : {}),
  });
  transform.pipe(destination);
  return pino(
    { level: env["LOG_LEVEL"] || "info", name: "probot", messageKey: env["LOG_MESSAGE_KEY"] || "msg", ...safeLoggerOptions(env) },
    transform,
  );
}
