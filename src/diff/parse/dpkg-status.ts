import type { Package } from "../types.js";

export interface DpkgParseOptions {
  /** Purl namespace: "debian", "ubuntu"…; default "debian". */
  readonly distro?: string;
}

/**
 * Installed packages of a dpkg database: `var/lib/dpkg/status`, or one distroless `var/lib/dpkg/status.d/*` file
 * (same format, Status usually omitted). Never throws: junk and incomplete paragraphs are skipped.
 */
export function parseDpkgStatus(text: string, options: DpkgParseOptions = {}): Package[] {
  void text;
  void options;
  throw new Error("parseDpkgStatus: not implemented yet");
}
