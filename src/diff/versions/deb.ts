import { compareDigitRuns, sign } from "./digits.js";
import { splitEpochVersionRelease } from "./evr.js";

/** A Debian version split as dpkg does: `[epoch:]upstream[-revision]`. */
export interface DebVersion {
  /** Digits; "0" when absent. */
  readonly epoch: string;
  readonly upstream: string;
  /** After the last hyphen; "" when absent. */
  readonly revision: string;
}

export function parseDebVersion(v: string): DebVersion {
  const { epoch, version, release } = splitEpochVersionRelease(v);
  return { epoch, upstream: version, revision: release };
}

// dpkg's character weight: `~` before the end of the string, the end before letters, letters before the rest.
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (c >= 0x30 && c <= 0x39) return 0;
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return c;
  if (c === 0x7e) return -1;
  return c + 256;
}

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/** dpkg's verrevcmp: alternating non-digit runs (by `order`) and digit runs (numerically). */
function verrevcmp(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigitAt(a, i)) || (j < b.length && !isDigitAt(b, j))) {
      const ac = order(a, i);
      const bc = order(b, j);
      if (ac !== bc) return sign(ac - bc);
      i++;
      j++;
    }
    const si = i;
    while (isDigitAt(a, i)) i++;
    const sj = j;
    while (isDigitAt(b, j)) j++;
    const r = compareDigitRuns(a.slice(si, i), b.slice(sj, j));
    if (r !== 0) return r;
  }
  return 0;
}

/**
 * Orders two Debian package versions the way dpkg does (lib/dpkg/version.c): epoch numerically, then
 * upstream and revision by verrevcmp, where `~` sorts before everything, even the end:
 * `1.0~rc1 < 1.0 < 1.0+b1`, `1:0.9 > 2.0`.
 */
export function compareDebVersions(a: string, b: string): -1 | 0 | 1 {
  const x = parseDebVersion(a);
  const y = parseDebVersion(b);
  return compareDigitRuns(x.epoch, y.epoch) || verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}
