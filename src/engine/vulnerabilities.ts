import type { Logger } from "pino";
import type { ImageDiff } from "../diff/types.js";
import { errorLine } from "../errors/error-line.js";
import { packagesToLookUp, vulnerabilityDelta } from "../vuln/delta.js";
import type { PackageVulnerabilitySource } from "../vuln/source.js";
import type { ImageDiffer } from "./package-diffs.js";

/**
 * A differ whose diffs also say which vulnerabilities each update fixes and introduces, looked up for the packages
 * that changed, came or went. A source that cannot answer is a warning on the image, never a failed diff.
 */
export function withVulnerabilities(differ: ImageDiffer, source: PackageVulnerabilitySource | undefined, log?: Pick<Logger, "info">): ImageDiffer {
  if (!source) return differ;
  return async (image, tag, from, to, platform) => {
    const diff = await differ(image, tag, from, to, platform);
    return addVulnerabilities(diff, source, log);
  };
}

/** `diff` with its vulnerability delta, or with a warning saying why there is none. */
export async function addVulnerabilities(diff: ImageDiff, source: PackageVulnerabilitySource, log?: Pick<Logger, "info">): Promise<ImageDiff> {
  if (diff.unchanged) return diff;
  const packages = packagesToLookUp(diff);
  const knowsPackages = diff.source !== undefined && diff.source.previous !== "none" && diff.source.current !== "none";
  if (!knowsPackages) return diff;
  try {
    const found = packages.length === 0 ? new Map() : await source.lookup(packages);
    return { ...diff, vulnerabilities: vulnerabilityDelta(diff, found, source.scanner, { from: diff.from, to: diff.to }) };
  } catch (error) {
    const reason = errorLine(error);
    log?.info({ image: diff.image, reason }, "vulnerabilities unavailable");
    return { ...diff, warnings: [...diff.warnings, `vulnerabilities not looked up: ${reason}`] };
  }
}
