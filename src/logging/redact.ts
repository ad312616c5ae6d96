/** What stands in for a secret in any text digesta prints or logs. */
export const REDACTED = "[redacted]";

/** `scheme://user:password@host` → `scheme://[redacted]@host`, anywhere in a text. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;
/** Credentials in an `Authorization`-style value quoted into a text: `Bearer eyJ…`, `Basic dXNlcjpwdw==`. */
const AUTH_SCHEME_VALUE = /\b(Bearer|Basic)(\s+)(?=[A-Za-z0-9\-._~+/]*[0-9._~+/])[A-Za-z0-9\-._~+/]{8,}=*/gi;

/** A URL as it may be shown: its userinfo (`user:password@`) replaced. */
export function redactUrl(url: URL | string): string {
  const parsed = typeof url === "string" ? safeUrl(url) : url;
  if (!parsed) return redactText(String(url));
  if (!parsed.username && !parsed.password) return parsed.href;
  const copy = new URL(parsed.href);
  copy.username = "";
  copy.password = "";
  return copy.href.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1${REDACTED}@`);
}

/** A text with URL userinfo and quoted Authorization values replaced: for messages and log lines. */
export function redactText(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED}@`).replace(AUTH_SCHEME_VALUE, `$1$2${REDACTED}`);
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
