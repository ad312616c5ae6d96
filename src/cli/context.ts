import { createLogger, type Logger } from "../logging/logger.js";
import { createRegistryClient, type RegistryClient } from "../registry/client.js";
import { createOsvSource, osvUrlFrom } from "../vuln/osv.js";
import type { PackageVulnerabilitySource } from "../vuln/source.js";
import { createAttestedScanSource } from "../vuln/attested-scans.js";
import type { VulnerabilitySources } from "../engine/vulnerabilities.js";

export interface GlobalOptions {
  readonly insecureRegistry?: string[];
  readonly osvUrl?: string;
}

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface CliContext extends CliIo {
  readonly logger: Logger;
  readonly registry: RegistryClient;
  /** Where the vulnerabilities of changed packages are looked up; undefined when turned off. */
  readonly vulnerabilities: PackageVulnerabilitySource | undefined;
}

export function createContext(options: GlobalOptions, io: CliIo): CliContext {
  const logger = createLogger();
  const registry = createRegistryClient({ logger, insecureRegistries: options.insecureRegistry ?? [] });
  const osvUrl = osvUrlFrom(options.osvUrl);
  return { logger, registry, vulnerabilities: osvUrl ? createOsvSource({ url: osvUrl }) : undefined, ...io };
}

/** A progress line on stderr, only when a person is watching it. */
export function progress(context: CliContext, label: string): ((done: number, total: number) => void) | undefined {
  if (!context.stderr.isTTY) return undefined;
  return (done, total) => {
    context.stderr.write(`\r${label} ${done}/${total}`);
    if (done === total) context.stderr.write("\r\x1b[K");
  };
}

/** The image's own attested scans first, then the package lookup when one is configured. */
export function vulnerabilitySources(context: CliContext): VulnerabilitySources {
  return { scans: createAttestedScanSource(context.registry), ...(context.vulnerabilities ? { packages: context.vulnerabilities } : {}) };
}

export function writeJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
