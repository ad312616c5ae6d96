export type RegistryErrorCode =
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "DENIED"
  | "TOO_MANY_REQUESTS"
  | "SERVER_ERROR"
  | "TIMEOUT"
  | "NETWORK"
  | "BAD_RESPONSE"
  | "DIGEST_MISMATCH"
  | "TOO_LARGE"
  | "INSECURE"
  | "FORBIDDEN_HOST"
  | "NO_TAG_HISTORY"
  | "NO_PLATFORM"
  /** A name or reference that cannot be put into a registry URL (checked before any request). */
  | "INVALID_REFERENCE";

/**
 * A registry operation that failed for one image. The message is one line, names the registry and the
 * image, carries the registry's own reason where it gave one, and never contains credentials.
 */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}
