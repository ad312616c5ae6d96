import type { VulnerabilitySources } from "../engine/vulnerabilities.js";
import { createAttestedScanSource } from "../vuln/attested-scans.js";
import { createOsvSource } from "../vuln/osv.js";
import type { CliContext } from "./context.js";

/** The image's own attested scans first, then the package lookup when one is configured. Made once per run. */
export function vulnerabilitySources(context: CliContext): VulnerabilitySources {
  return { scans: createAttestedScanSource(context.registry), ...(context.osvUrl ? { packages: createOsvSource({ url: context.osvUrl }) } : {}) };
}
