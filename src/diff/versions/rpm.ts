import { compareDigitRuns, compareStrings } from "./digits.js";
import { splitEpochVersionRelease, type EpochVersionRelease } from "./evr.js";

/** An rpm EVR, `[epoch:]version[-release]`, split. */
export const parseRpmVersion = splitEpochVersionRelease;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isAlpha = (c: string | undefined): boolean => c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));

/**
 * rpm's rpmvercmp on one version or release string: alphanumeric segments, numbers above letters,
 * `~` below everything (even the end), `^` above the end but below any further segment.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const skip = (s: string, k: number): number => {
    while (k < s.length && !isDigit(s[k]) && !isAlpha(s[k]) && s[k] !== "~" && s[k] !== "^") k++;
    return k;
  };
  while (i < a.length || j < b.length) {
    i = skip(a, i);
    j = skip(b, j);
    const ca = a[i];
    const cb = b[j];
    if (ca === "~" || cb === "~") {
      if (ca !== "~") return 1;
      if (cb !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (ca === "^" || cb === "^") {
      if (ca === undefined) return -1;
      if (cb === undefined) return 1;
      if (ca !== "^") return 1;
      if (cb !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (ca === undefined || cb === undefined) break;
    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAlpha;
    const si = i;
    while (i < a.length && inSegment(a[i])) i++;
    const sj = j;
    while (j < b.length && inSegment(b[j])) j++;
    // Segments of different kinds: the numeric one is newer.
    if (sj === j) return numeric ? 1 : -1;
    const r = numeric ? compareDigitRuns(a.slice(si, i), b.slice(sj, j)) : compareStrings(a.slice(si, i), b.slice(sj, j));
    if (r !== 0) return r;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/**
 * Orders two rpm EVRs as rpm.vercmp does: epoch numerically, then version and release by rpmvercmp, a missing
 * release below any present one (`1.0 < 1.0-~`, `1.0 < 1.0-`).
 */
export function compareRpmVersions(a: string, b: string): -1 | 0 | 1 {
  const x = parseRpmVersion(a);
  const y = parseRpmVersion(b);
  return compareDigitRuns(x.epoch, y.epoch) || rpmvercmp(x.version, y.version) || compareReleases(x, y);
}

function compareReleases(x: EpochVersionRelease, y: EpochVersionRelease): -1 | 0 | 1 {
  if (x.hasRelease && y.hasRelease) return rpmvercmp(x.release, y.release);
  return x.hasRelease === y.hasRelease ? 0 : x.hasRelease ? 1 : -1;
}
