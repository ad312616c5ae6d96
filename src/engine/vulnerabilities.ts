import type { Logger } from "pino";
import type { ImageDiff } from "../diff/types.js";
import { errorLine } from "../errors/error-line.js";
import type { ImageName } from "../reference/types.js";
import type { ImageScanSource } from "../vuln/attested-scans.js";
import { packagesToLookUp, scanDelta, vulnerabilityDelta } from "../vuln/delta.js";
import type { PackageVulnerabilitySource } from "../vuln/source.js";
import type { ImageDiffer } from "./package-diffs.js";

/** Where the vulnerability delta comes from, cheapest first: scans attested beside both images, then a lookup of the changed packages. */
export interface VulnerabilitySources {
  readonly scans?: ImageScanSource;
  readonly packages?: PackageVulnerabilitySource;
}

/**
 * A differ whose diffs also say which vulnerabilities each update fixes and introduces. A source that cannot answer
 * is a warning on the image, never a failed diff.
 */
export function withVulnerabilities(differ: ImageDiffer, sources: VulnerabilitySources, log?: Pick<Logger, "info" | "debug">): ImageDiffer {
  if (!sources.scans && !sources.packages) return differ;
  return async (image, tag, from, to, platform) => {
    const diff = await differ(image, tag, from, to, platform);
    return addVulnerabilities(image, diff, sources, log);
  };
}

/** `diff` with its vulnerability delta, or with a warning saying why there is none. */
export async function addVulnerabilities(
  image: ImageName,
  diff: ImageDiff,
  sources: VulnerabilitySources,
  log?: Pick<Logger, "info" | "debug">,
): Promise<ImageDiff> {
  if (diff.unchanged) return diff;
  if (sources.scans) {
    try {
      const [previous, current] = await Promise.all([sources.scans.scanOf(image, diff.from), sources.scans.scanOf(image, diff.to)]);
      if (previous && current) {
        const metadata = [
          { digest: diff.from, scanner: previous.scanner },
          { digest: diff.to, scanner: current.scanner },
        ];
        return { ...diff, vulnerabilities: scanDelta(previous.entries, current.entries, metadata) };
      }
    } catch (error) {
      log?.debug({ image: diff.image, reason: errorLine(error) }, "vulnerability attestations unusable; looking up the packages instead");
    }
  }
  const source = sources.packages;
  const knowsPackages = diff.source !== undefined && diff.source.previous !== "none" && diff.source.current !== "none";
  if (!source || !knowsPackages) return diff;
  try {
    const packages = packagesToLookUp(diff);
    const found = packages.length === 0 ? new Map() : await source.lookup(packages);
    return { ...diff, vulnerabilities: vulnerabilityDelta(diff, found, source.scanner, { from: diff.from, to: diff.to }) };
  } catch (error) {
    const reason = errorLine(error);
    log?.info({ image: diff.image, reason }, "vulnerabilities unavailable");
    return { ...diff, warnings: [...diff.warnings, `vulnerabilities not looked up: ${reason}`] };
  }
}
