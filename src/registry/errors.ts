import { redactText } from "../logging/redact.js";

export type RegistryErrorCode =
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "DENIED"
  | "TOO_MANY_REQUESTS"
  | "SERVER_ERROR"
  | "TIMEOUT"
  /** The operation's whole deadline (retries and body included) passed. */
  | "DEADLINE"
  | "NETWORK"
  | "BAD_RESPONSE"
  | "DIGEST_MISMATCH"
  /** The body received is shorter or longer than its Content-Length. */
  | "INCOMPLETE"
  | "TOO_LARGE"
  | "INSECURE"
  | "FORBIDDEN_HOST"
  | "NO_TAG_HISTORY"
  | "NO_PLATFORM"
  /** A name or reference that cannot be put into a registry URL (checked before any request). */
  | "INVALID_REFERENCE";

/**
 * A registry operation that failed for one image. The message is one line, names the registry and the
 * image, carries the registry's own reason where it gave one, and never contains credentials (URL userinfo
 * and Authorization values are redacted here, whoever built the message).
 */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  /** How long the registry asked us to wait before trying again (`Retry-After`). */
  readonly retryAfterMs?: number;
  /** An answer a registry would not give (a manifest that is an HTML page): worth asking again. */
  readonly transient?: boolean;

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly status?: number,
    extra: { readonly retryAfterMs?: number; readonly transient?: boolean } = {},
  ) {
    super(redactText(message));
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
    if (extra.transient) this.transient = true;
  }
}
