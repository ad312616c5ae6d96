/** A parsed Package URL (https://github.com/package-url/purl-spec), components percent-decoded. */
export interface Purl {
  readonly type: string;
  readonly namespace?: string;
  readonly name: string;
  readonly version?: string;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath?: string;
}

export type PurlFields = Omit<Purl, "qualifiers"> & { readonly qualifiers?: Readonly<Record<string, string>> };

/** Longer than any real purl; refuses hostile input early. */
const MAX_PURL_LENGTH = 4096;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Splits once on the last `sep`: [before, after], or [s, undefined]. */
function rsplit(s: string, sep: string): [string, string | undefined] {
  const i = s.lastIndexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function decodeSegments(s: string, dropDots: boolean): string | undefined {
  const out: string[] = [];
  for (const segment of s.split("/")) {
    if (segment === "" || (dropDots && (segment === "." || segment === ".."))) continue;
    const d = decode(segment);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out.join("/");
}

/** Parses a purl; undefined when `s` is not one. */
export function parsePurl(s: string): Purl | undefined {
  if (typeof s !== "string" || s.length > MAX_PURL_LENGTH) return undefined;
  let rest = s.trim();
  if (!/^pkg:/i.test(rest)) return undefined;
  rest = rest.slice(4).replace(/^\/+/, "");

  const [beforeSubpath, rawSubpath] = rsplit(rest, "#");
  const [beforeQualifiers, rawQualifiers] = rsplit(beforeSubpath, "?");
  const slash = beforeQualifiers.indexOf("/");
  if (slash <= 0) return undefined;
  const type = beforeQualifiers.slice(0, slash).toLowerCase();
  if (!/^[a-z.+-][a-z0-9.+-]*$/.test(type)) return undefined;

  const [path, rawVersion] = rsplit(beforeQualifiers.slice(slash + 1).replace(/\/+$/, ""), "@");
  const [rawNamespace, rawName] = rsplit(path, "/");
  const name = decode(rawName ?? rawNamespace);
  if (!name) return undefined;
  const namespace = rawName === undefined ? undefined : decodeSegments(rawNamespace, false);
  if (namespace === undefined && rawName !== undefined) return undefined;
  const version = rawVersion === undefined ? undefined : decode(rawVersion);
  if (rawVersion !== undefined && !version) return undefined;

  const qualifiers: Record<string, string> = {};
  for (const pair of (rawQualifiers ?? "").split("&")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).toLowerCase();
    const value = decode(pair.slice(eq + 1));
    if (value === undefined) return undefined;
    if (value !== "" && /^[a-z0-9._-]+$/.test(key)) qualifiers[key] = value;
  }
  const subpath = rawSubpath === undefined ? undefined : decodeSegments(rawSubpath, true);

  return {
    type,
    ...(namespace ? { namespace } : {}),
    name,
    ...(version ? { version } : {}),
    qualifiers,
    ...(subpath ? { subpath } : {}),
  };
}

/** Percent-encodes a purl component; `:` stays as is, as the purl spec allows. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/%3A/gi, ":");
}

/** Formats a purl: each component percent-encoded, qualifiers sorted by key, empty values left out. */
export function formatPurl(purl: PurlFields): string {
  let out = `pkg:${purl.type.toLowerCase()}/`;
  if (purl.namespace) out += purl.namespace.split("/").filter(Boolean).map(encode).join("/") + "/";
  out += encode(purl.name);
  if (purl.version) out += `@${encode(purl.version)}`;
  const qualifiers = Object.entries(purl.qualifiers ?? {})
    .filter(([, v]) => v !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (qualifiers.length > 0) out += "?" + qualifiers.map(([k, v]) => `${k.toLowerCase()}=${encode(v)}`).join("&");
  if (purl.subpath) out += "#" + purl.subpath.split("/").filter(Boolean).map(encode).join("/");
  return out;
}
