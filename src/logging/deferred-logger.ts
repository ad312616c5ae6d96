import { createRequire } from "node:module";
import type { DestinationStream, Logger, pino } from "pino";
import { stderrLogger } from "./logger-options.js";

/** pino's levels; `silent` writes nothing. */
const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const LOGGING_METHODS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const quiet = (): void => {};

/**
 * A command-line logger that loads pino (a few dozen modules, a worker-thread transport among them) with its first line
 * at an enabled level, instead of at start-up: most runs write none (the default level is `warn`). Lines below the
 * level cost nothing; everything else is the pino logger `load` makes, redaction included.
 */
export function deferredLogger(level: string, load: () => Logger): Logger {
  const threshold = LEVEL_VALUES[level];
  // A level pino does not know: let pino say so now, as an eagerly made logger would.
  if (threshold === undefined) return load();
  let real: Logger | undefined;
  const target = (): Logger => (real ??= load());
  return new Proxy({} as Logger, {
    get(_, key) {
      if (real === undefined && typeof key === "string") {
        if (LOGGING_METHODS.has(key) && LEVEL_VALUES[key]! < threshold) return quiet;
        if (key === "level") return level;
        if (key === "isLevelEnabled") return (name: string) => (LEVEL_VALUES[name] ?? -Infinity) >= threshold;
        if (key === "child") {
          return (bindings: pino.Bindings, options?: pino.ChildLoggerOptions) =>
            options?.level === undefined ? deferredLogger(level, () => target().child(bindings, options)) : target().child(bindings, options);
        }
      }
      const logger = target();
      const value: unknown = Reflect.get(logger, key);
      return typeof value === "function" ? value.bind(logger) : value;
    },
    set(_, key, value) {
      return Reflect.set(target(), key, value);
    },
    has(_, key) {
      return Reflect.has(target(), key);
    },
  });
}

/**
 * The command line's logger: createLogger's (stderr, `LOG_LEVEL`, default `warn`, redacted), with pino loaded on the
 * first line written. pino stays a package of its own beside the bundle, so it is required from node_modules.
 */
export function createDeferredLogger(
  level: string = process.env["LOG_LEVEL"] ?? "warn",
  format: "json" | "text" = "json",
  destination?: DestinationStream,
): Logger {
  return deferredLogger(level, () => stderrLogger(createRequire(import.meta.url)("pino") as typeof pino, level, format, destination));
}
