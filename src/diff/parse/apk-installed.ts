import type { Package } from "../types.js";

export interface ApkParseOptions {
  /** Purl namespace: "alpine", "wolfi", "chainguard"…; guessed by the caller from `etc/os-release`. Default "alpine". */
  readonly distro?: string;
}

/** Packages of an apk database (`lib/apk/db/installed`). Never throws: junk lines and incomplete records are skipped. */
export function parseApkInstalled(text: string, options: ApkParseOptions = {}): Package[] {
  void text;
  void options;
  throw new Error("parseApkInstalled: not implemented yet");
}
