import type { Package } from "../types.js";
import { formatPurl } from "./purl.js";

/**
 * No real image holds more than a few thousand packages: a database or SBOM listing more than this is broken or
 * hostile. Parsers stop after MAX_PACKAGES + 1, so that callers can tell such a list from a full one.
 */
export const MAX_PACKAGES = 100_000;

/** The lines of `text`, without their `\r\n` or `\n`, one at a time (a split of a hostile file could take GiBs). */
export function* lines(text: string): Generator<string> {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    yield text.charCodeAt(end - 1) === 0x0d && end > start ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
  }
}

/** Names and versions longer than this are junk or hostile, never a real package. */
export const MAX_FIELD_LENGTH = 512;

/** A package name or version as found in a database: trimmed, one line, bounded; undefined when unusable. */
export function cleanField(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "" || v.length > MAX_FIELD_LENGTH || /[\s\u0000-\u001f\u007f]/.test(v)) return undefined;
  return v;
}

/** A package of a distribution's own database (fields already cleaned), its purl namespaced by the distribution. */
export function databasePackage(
  type: "apk" | "deb",
  distro: string,
  fields: { readonly name: string; readonly version: string; readonly arch?: string | undefined; readonly origin?: string | undefined },
): Package {
  const { name, version, arch, origin } = fields;
  return {
    type,
    name,
    version,
    ...(arch ? { arch } : {}),
    ...(origin ? { origin } : {}),
    purl: formatPurl({ type, namespace: distro, name, version, qualifiers: arch ? { arch } : {} }),
  };
}
