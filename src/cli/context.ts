import { createLogger, type Logger } from "../logging/logger.js";
import { createProgress, type Progress } from "./progress.js";
import { createRegistryClient, type RegistryClient } from "../registry/client.js";
import { createOsvSource, osvUrlFrom } from "../vuln/osv.js";
import type { PackageVulnerabilitySource } from "../vuln/source.js";
import { createAttestedScanSource } from "../vuln/attested-scans.js";
import type { VulnerabilitySources } from "../engine/vulnerabilities.js";
import { UsageError } from "./errors.js";

export interface GlobalOptions {
  readonly insecureRegistry?: string[];
  /** `json` or `text`; default text on a terminal, JSON lines otherwise (also DIGESTA_LOG_FORMAT). */
  readonly logFormat?: string;
  readonly osvUrl?: string;
}

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface CliContext extends CliIo {
  readonly logger: Logger;
  readonly registry: RegistryClient;
  /** Where the vulnerabilities of changed packages are looked up; undefined when turned off. */
  readonly vulnerabilities: PackageVulnerabilitySource | undefined;
  /** The progress line on stderr (silent unless stderr is a terminal). */
  readonly progress: Progress;
}

export function createContext(options: GlobalOptions, io: CliIo): CliContext {
  const logger = createLogger(undefined, logFormat(options.logFormat, io.stderr.isTTY === true));
  const registry = createRegistryClient({ logger, insecureRegistries: options.insecureRegistry ?? [] });
  const osvUrl = osvUrlFrom(options.osvUrl);
  const progress = createProgress(io.stderr);
  return { logger, registry, vulnerabilities: osvUrl ? createOsvSource({ url: osvUrl }) : undefined, progress, ...io };
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

/** The image's own attested scans first, then the package lookup when one is configured. */
export function vulnerabilitySources(context: CliContext): VulnerabilitySources {
  return { scans: createAttestedScanSource(context.registry), ...(context.vulnerabilities ? { packages: context.vulnerabilities } : {}) };
}

export function writeJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
