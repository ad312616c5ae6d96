import type { Logger } from "../logging/logger.js";
import { createProgress, type Progress } from "./progress.js";
import type { RegistryClient, RegistryClientOptions } from "../registry/client.js";
import { UsageError } from "./errors.js";

export interface GlobalOptions {
  readonly insecureRegistry?: string[];
  readonly registryMirror?: string[];
  /** `json` or `text`; default text on a terminal, JSON lines otherwise (also DIGESTA_LOG_FORMAT). */
  readonly logFormat?: string;
  readonly osvUrl?: string;
  readonly timeout?: string;
  readonly deadline?: string;
  readonly retries?: string;
}

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** What a command that only reads files and prints needs: the streams and the progress line. */
export interface CliOutput extends CliIo {
  /** The progress line on stderr (silent unless stderr is a terminal). */
  readonly progress: Progress;
}

export interface CliContext extends CliOutput {
  readonly logger: Logger;
  readonly registry: RegistryClient;
  /** The OSV service the vulnerabilities of changed packages are looked up at; undefined when turned off. */
  readonly osvUrl: string | undefined;
}

/**
 * Loads the registry client only for the commands that use it, to keep start-up short; pino loads with the first line
 * logged, the OSV client in the commands that look vulnerabilities up (cli/vulnerabilities.ts).
 */
export async function createContext(options: GlobalOptions, io: CliIo): Promise<CliContext> {
  const [{ createDeferredLogger }, { createRegistryClient }, { osvUrlFrom }] = await Promise.all([
    import("../logging/deferred-logger.js"),
    import("../registry/client.js"),
    import("../vuln/osv-url.js"),
  ]);
  const logger = createDeferredLogger(undefined, logFormat(options.logFormat, io.stderr.isTTY === true));
  const registry = createRegistryClient({
    logger,
    insecureRegistries: options.insecureRegistry ?? [],
    mirrors: options.registryMirror ?? [],
    ...networkOptions(options),
  });
  const osvUrl = osvUrlFrom(options.osvUrl);
  const progress = createProgress(io.stderr);
  return { logger, registry, osvUrl, progress, ...io };
}

/** Refuses wrong global options for commands that do not use them too (a scan), so a typo never passes unnoticed. */
export function checkGlobalOptions(options: GlobalOptions, io: CliIo): void {
  logFormat(options.logFormat, io.stderr.isTTY === true);
  networkOptions(options);
}

/** Readable lines for a person at a terminal, JSON lines for machines, unless asked otherwise. */
function logFormat(asked: string | undefined, terminal: boolean): "json" | "text" {
  const wanted = asked ?? process.env["DIGESTA_LOG_FORMAT"];
  if (wanted === "json" || wanted === "text") return wanted;
  if (wanted !== undefined && wanted !== "") throw new UsageError(`log format "${wanted}" is not json or text`);
  return terminal ? "text" : "json";
}

/** A counted phase of the progress line; its callback ends the line when the last step is done. */
export function progress(context: CliContext, label: string): ((done: number, total: number) => void) | undefined {
  if (!context.stderr.isTTY) return undefined;
  context.progress.phase(label);
  return (done, total) => {
    context.progress.update(done, total);
    if (done === total) context.progress.end();
  };
}

export function writeJson(context: CliIo, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `--timeout`, `--deadline` and `--retries`; without them the client reads DIGESTA_TIMEOUT, DIGESTA_DEADLINE, DIGESTA_RETRIES. */
function networkOptions(options: GlobalOptions): Pick<RegistryClientOptions, "timeoutMs" | "deadlineMs" | "retries"> {
  const seconds = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} takes a number of seconds above 0, not "${text}"`);
    return Math.round(value * 1000);
  };
  const timeoutMs = seconds(options.timeout, "--timeout");
  const deadlineMs = seconds(options.deadline, "--deadline");
  let retries: number | undefined;
  if (options.retries !== undefined) {
    retries = Number(options.retries);
    if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`--retries takes a whole number of at least 0, not "${options.retries}"`);
  }
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    ...(retries !== undefined ? { retries } : {}),
  };
}
