import { compareDigitRuns, compareStrings } from "./digits.js";

/** A version split the semver way: `v1.2.3-rc.1+build.5` → core `1.2.3`, prerelease `rc.1`, build `build.5`. */
export interface GenericVersion {
  readonly core: string;
  readonly prerelease?: string;
  readonly build?: string;
}

export function parseGenericVersion(v: string): GenericVersion {
  let rest = v.trim().replace(/^[vV](?=\d)/, "");
  let build: string | undefined;
  const plus = rest.indexOf("+");
  if (plus >= 0) {
    build = rest.slice(plus + 1);
    rest = rest.slice(0, plus);
  }
  const hyphen = rest.indexOf("-");
  const parsed: GenericVersion =
    hyphen >= 0 ? { core: rest.slice(0, hyphen), prerelease: rest.slice(hyphen + 1) } : { core: rest };
  return build === undefined ? parsed : { ...parsed, build };
}

/** Runs of digits or letters; everything else separates. */
function tokens(s: string): string[] {
  return s.match(/\d+|[A-Za-z]+|[^\dA-Za-z.\-_+~]+/g) ?? [];
}

const isNumeric = (t: string): boolean => /^\d/.test(t);

/** Tokens in order: numbers by value, text by code units, a number above text (1.0.1 > 1.0a). */
function compareToken(a: string, b: string): -1 | 0 | 1 {
  const an = isNumeric(a);
  const bn = isNumeric(b);
  if (an && bn) return compareDigitRuns(a, b);
  if (an !== bn) return an ? 1 : -1;
  return compareStrings(a, b);
}

/** The core: missing components count as 0, so `1.0` equals `1.0.0`. */
function compareCore(a: string, b: string): -1 | 0 | 1 {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const r = compareToken(x[i] ?? "0", y[i] ?? "0");
    if (r !== 0) return r;
  }
  return 0;
}

/** Semver precedence of pre-release identifiers: numeric < alphanumeric, and a longer list wins a tie. */
function comparePrerelease(a: string | undefined, b: string | undefined): -1 | 0 | 1 {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] ?? "";
    const q = y[i] ?? "";
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    const r = pn && qn ? compareDigitRuns(p, q) : pn !== qn ? (pn ? -1 : 1) : compareStrings(p, q);
    if (r !== 0) return r;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/**
 * A semver-ish order for versions of packages that are neither apk, deb nor rpm (npm, Go modules, PyPI, …):
 * core components numerically, a pre-release below its release, build metadata and then the text itself only
 * to break ties, so two different strings never compare equal.
 */
export function compareGenericVersions(a: string, b: string): -1 | 0 | 1 {
  const x = parseGenericVersion(a);
  const y = parseGenericVersion(b);
  return (
    compareCore(x.core, y.core) ||
    comparePrerelease(x.prerelease, y.prerelease) ||
    compareStrings(x.build ?? "", y.build ?? "") ||
    compareStrings(a, b)
  );
}
