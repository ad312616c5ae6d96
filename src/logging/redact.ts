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

/** Environment variables that hold secrets digesta or Probot use. */
const SECRET_VARIABLES = [
  "DIGESTA_SWEEP_SECRET",
  "WEBHOOK_SECRET",
  "PRIVATE_KEY",
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "GITHUB_CLIENT_SECRET",
  "REDIS_PASSWORD",
];
/** Shorter values would be found in ordinary text; nothing this short is a real secret. */
const MIN_SECRET_LENGTH = 8;

/** The values of the environment's secrets, each also as it appears inside a JSON string (escaped). */
export function secretsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const values = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const value = env[name]?.trim();
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    values.add(value);
    values.add(JSON.stringify(value).slice(1, -1));
    // A PEM key is as secret line by line as it is whole.
    for (const line of value.split(/\r?\n|\\n/)) if (line.length >= 40 && !line.startsWith("-----")) values.add(line);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/**
 * One serialised log line with every secret replaced: the values of secret headers at any depth
 * (`"authorization":"…"`, `"set-cookie":[…]`), known secret values, URL userinfo and Authorization values in text.
 */
export function scrubLine(line: string, secrets: readonly string[], secretHeaders: readonly string[]): string {
  let out = line;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  out = out.replace(secretHeaderPattern(secretHeaders), (_match, name: string) => `"${name}":"${REDACTED}"`);
  return redactText(out);
}

const headerPatterns = new WeakMap<readonly string[], RegExp>();
const JSON_STRING = String.raw`"(?:[^"\\]|\\.)*"`;

function secretHeaderPattern(names: readonly string[]): RegExp {
  let pattern = headerPatterns.get(names);
  if (!pattern) {
    const alternatives = names.map((name) => name.replace(/[-]/g, "\\-")).join("|");
    pattern = new RegExp(String.raw`"(${alternatives})"\s*:\s*(?:${JSON_STRING}|\[(?:\s*${JSON_STRING}\s*,?)*\])`, "gi");
    headerPatterns.set(names, pattern);
  }
  return pattern;
}
