import type { NotScannedFile } from "./types.js";

/** Files left unread that could hold a pin: what makes `check` and `update` unable to vouch for the tree. */
export function unreadFiles(skippedFiles: readonly NotScannedFile[]): NotScannedFile[] {
  return skippedFiles.filter((file) => file.kind === "unreadable" || file.kind === "too-large" || file.kind === "too-many-references" || file.kind === "encoding");
}
