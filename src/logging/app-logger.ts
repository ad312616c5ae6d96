import { pino, type Logger } from "pino";
import { safeLoggerOptions } from "./logger.js";

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
