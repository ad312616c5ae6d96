import type { VulnerabilitySources } from "../engine/vulnerabilities.js";
import { createAttestedScanSource } from "../vuln/attested-scans.js";
import { createOsvSource } from "../vuln/osv.js";
import type { Registry } from "../registry/types.js";
import type { CliContext } from "./context.js";

/**
 * The image's own attested scans first, then the package lookup when one is configured. Made once per run; `reader`
 * is the run's registry when it shares what it read (a manifest memo), else the client.
 */
export function vulnerabilitySources(context: CliContext, reader: Registry = context.registry): VulnerabilitySources {
  return { scans: createAttestedScanSource(reader), ...(context.osvUrl ? { packages: createOsvSource({ url: context.osvUrl }) } : {}) };
}
