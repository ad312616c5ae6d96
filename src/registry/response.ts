import { RegistryError, type RegistryErrorCode } from "./errors.js";
import { type Exchange, parseRetryAfter } from "./transport.js";

/** How much of an error body we read to find the registry's reason. */
const ERROR_BODY_BYTES = 16 * 1024;
const REASON_CHARS = 200;

export interface FailureContext {
  /** `registry.example.test/app:1.0`, `registry.example.test/app@sha256:…`. */
  readonly what: string;
  /** `manifest request`, `token request to auth.example.test`. */
  readonly action: string;
  /** The registry as users write it, for the `docker login` hint. */
  readonly registry: string;
  /** Replaces the default advice for this status. */
  readonly hint?: string;
}

/** Turns an unsuccessful response into a one-line RegistryError carrying the registry's own reason. */
export async function failureFrom(exchange: Exchange, context: FailureContext): Promise<RegistryError> {
  const status = exchange.status;
  let body: Uint8Array = new Uint8Array();
  // An empty body is discarded, not skipped: unread, it would hold its connection and the registry's slot.
  if (exchange.headers.get("content-length") === "0") exchange.discard();
  else body = await exchange.peek(ERROR_BODY_BYTES);
  const reason = describeErrorBody(body, exchange.headers.get("content-type"), status);
  const code = codeForStatus(status);
  const hint = context.hint ?? defaultHint(code, context.registry);
  const message = `${context.what}: ${context.action} failed with HTTP ${status}${reason ? ` (${reason})` : ""}${hint ? `; ${hint}` : ""}`;
  const retryAfterMs = parseRetryAfter(exchange.headers.get("retry-after"), Date.now());
  return new RegistryError(code, message, status, retryAfterMs !== undefined ? { retryAfterMs } : {});
}

export function codeForStatus(status: number): RegistryErrorCode {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 429) return "TOO_MANY_REQUESTS";
  if (status >= 500) return "SERVER_ERROR";
  return "BAD_RESPONSE";
}

function defaultHint(code: RegistryErrorCode, registry: string): string | undefined {
  switch (code) {
    case "UNAUTHORIZED":
      return `log in with "docker login ${registry}" or check the credentials in your Docker config`;
    case "DENIED":
      return "check the repository name and that your credentials may pull it";
    case "NOT_FOUND":
      return "check that the image exists on this registry";
    case "TOO_MANY_REQUESTS":
      return "the registry is rate-limiting us; retry later or log in for a higher limit";
    case "SERVER_ERROR":
      return "the registry is failing; retry later";
    default:
      return undefined;
  }
}

/**
 * The registry's reason, from the distribution error JSON (`{"errors":[{"code","message"}]}`), an OAuth
 * error (`{"error","error_description"}`), an HTML page (said as such, never quoted) or the first line of text.
 */
export function describeErrorBody(body: Uint8Array, contentType: string | null, status: number): string | undefined {
  if (body.byteLength === 0) return undefined;
  const text = Buffer.from(body).toString("utf8");
  const trimmed = text.trimStart();
  if (/html/i.test(contentType ?? "") || /^<(!doctype|html|head|body)/i.test(trimmed)) {
    return `registry answered with an HTML page (status ${status})`;
  }
  if (trimmed.startsWith("{")) {
    const fromJson = reasonFromJson(trimmed);
    if (fromJson) return fromJson;
  }
  const firstLine = trimmed.split(/\r?\n/, 1)[0] ?? "";
  return firstLine === "" ? undefined : oneLine(firstLine);
}

function reasonFromJson(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const errors = record["errors"];
  if (Array.isArray(errors) && errors.length > 0) {
    const parts = errors.slice(0, 3).map((entry) => {
      const e = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
      const code = typeof e["code"] === "string" ? e["code"] : undefined;
      const message = typeof e["message"] === "string" ? e["message"] : undefined;
      return [code, message].filter(Boolean).join(": ");
    });
    const joined = parts.filter(Boolean).join("; ");
    if (joined) return oneLine(joined);
  }
  for (const key of ["error_description", "message", "details", "error"]) {
    const field = record[key];
    if (typeof field === "string" && field !== "") return oneLine(field);
  }
  return undefined;
}

/** Control characters and newlines out, length capped: registry text goes into our one-line messages. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > REASON_CHARS ? `${flat.slice(0, REASON_CHARS)}…` : flat;
}
