/** `sha256:0123456789ab…`: enough of a digest for a person to tell images apart in a warning. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return digest.length > colon + 13 ? `${digest.slice(0, colon + 13)}…` : digest;
}

/** An error's one-line message, for a warning (registry errors already keep credentials out of theirs). */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0]!.slice(0, 300);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}
