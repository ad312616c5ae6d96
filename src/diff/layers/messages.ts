import { errorLine } from "../../errors/error-line.js";

/** `sha256:0123456789ab…`: enough of a digest for a person to tell images apart in a warning. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return digest.length > colon + 13 ? `${digest.slice(0, colon + 13)}…` : digest;
}

/** An error's one-line message, for a warning (registry errors already keep credentials out of theirs). */
export function reasonOf(error: unknown): string {
  return errorLine(error, 300);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}
