import type { Package } from "../types.js";
import { cleanField, databasePackage, lines, MAX_PACKAGES } from "./fields.js";

export interface ApkParseOptions {
  /** Purl namespace: "alpine", "wolfi", "chainguard"…; from the image's os-release, else apkDistroOf. Default "alpine". */
  readonly distro?: string;
}

interface Draft {
  name?: string;
  version?: string;
  arch?: string;
  origin?: string;
}

/**
 * Packages of an apk database (`lib/apk/db/installed`): records of `X:value` lines (P: name, V: version,
 * A: arch, o: origin) separated by blank lines. Never throws: junk lines and incomplete records are skipped. Stops
 * after MAX_PACKAGES + 1 packages.
 */
export function parseApkInstalled(text: string, options: ApkParseOptions = {}): Package[] {
  const distro = options.distro ?? "alpine";
  const packages: Package[] = [];
  let draft: Draft = {};

  const flush = (): void => {
    const name = cleanField(draft.name);
    const version = cleanField(draft.version);
    if (name && version) {
      packages.push(databasePackage("apk", distro, { name, version, arch: cleanField(draft.arch), origin: cleanField(draft.origin) }));
    }
    draft = {};
  };

  for (const line of lines(text)) {
    if (packages.length > MAX_PACKAGES) return packages;
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (line.length < 2 || line[1] !== ":") continue;
    const value = line.slice(2);
    switch (line[0]) {
      case "P":
        // A second P: without a blank line between: a new record.
        if (draft.name !== undefined) flush();
        draft.name = value;
        break;
      case "V":
        draft.version ??= value;
        break;
      case "A":
        draft.arch ??= value;
        break;
      case "o":
        draft.origin ??= value;
        break;
    }
  }
  flush();
  return packages;
}

/**
 * The distribution an apk database names through its own packages, for images whose os-release is not at hand:
 * the baselayout, keys and release packages (or the origin they were built from) are each distribution's own.
 */
export function apkDistroOf(text: string): string | undefined {
  const m = /^[Po]:(wolfi|chainguard|alpine)-(?:baselayout|keys|release)$/m.exec(text);
  return m?.[1];
}
