import type { ChangeClassification } from "../types.js";
import { compareApkVersions, splitApkRevision, type ApkToolsSeries } from "./apk.js";
import { compareDebVersions, parseDebVersion } from "./deb.js";
import { compareGenericVersions, parseGenericVersion } from "./generic.js";
import { compareRpmVersions, parseRpmVersion } from "./rpm.js";

/** What decides an order beyond the package type: the apk-tools series of the image (2 unless it runs apk-tools 3). */
export interface VersionOrdering {
  readonly apkTools?: ApkToolsSeries;
}

/** Orders two versions of a package of this type: apk-tools, dpkg, rpm rules, or semver-ish for anything else. */
export function compareVersions(type: string, a: string, b: string, ordering: VersionOrdering = {}): -1 | 0 | 1 {
  switch (type) {
    case "apk":
      return compareApkVersions(a, b, ordering.apkTools);
    case "deb":
      return compareDebVersions(a, b);
    case "rpm":
      return compareRpmVersions(a, b);
    default:
      return compareGenericVersions(a, b);
  }
}

/**
 * A version without its packaging revision: what must stay equal for a change to be a rebuild.
 * apk `1.2-r3` → `1.2`; deb `1:1.2-3` → `1:1.2`; rpm `1:1.2-3.el9` → `1:1.2`; others: without `+build`.
 */
export function upstreamOf(type: string, version: string): { withEpoch: string; upstream: string } {
  switch (type) {
    case "apk": {
      const upstream = splitApkRevision(version).upstream;
      return { withEpoch: upstream, upstream };
    }
    case "deb": {
      const v = parseDebVersion(version);
      return { withEpoch: `${v.epoch}:${v.upstream}`, upstream: v.upstream };
    }
    case "rpm": {
      const v = parseRpmVersion(version);
      return { withEpoch: `${v.epoch}:${v.version}`, upstream: v.version };
    }
    default: {
      const v = parseGenericVersion(version);
      const upstream = v.prerelease === undefined ? v.core : `${v.core}-${v.prerelease}`;
      return { withEpoch: upstream, upstream };
    }
  }
}

/**
 * The first number of the upstream version, epoch left out, or undefined when there is none or it looks like a
 * date stamp (more than four digits: `20240203`), whose every change would otherwise count as major.
 */
export function majorComponent(type: string, version: string): string | undefined {
  const m = /\d+/.exec(upstreamOf(type, version).upstream);
  if (!m) return undefined;
  const digits = m[0].replace(/^0+(?=\d)/, "");
  return digits.length > 4 ? undefined : digits;
}

export interface Classification {
  readonly classification: ChangeClassification;
  /** The first number of the upstream version changed, epochs ignored (an epoch bump says "the scheme changed"). */
  readonly major: boolean;
}

/** A Debian revision without its rebuild counter: a binNMU's `+bN`, Ubuntu's no-change `buildN`. */
const withoutDebRebuild = (revision: string): string => revision.replace(/(\+b|build)\d+$/, "");

/**
 * Whether a move within one upstream version only rebuilt the package. apk's `-rN` and a generic `+build` are build
 * counters; a Debian revision is one only in its binNMU (`+b1`) or Ubuntu `build1` suffix: `+deb12u1 → +deb12u2` and
 * `ubuntu0.22.04.1 → .2` are stable or security updates of the distribution, and so is any rpm release change
 * (rpm has no separate build counter: Red Hat's and SUSE's fixes arrive as new releases).
 */
function onlyRebuilt(type: string, previous: string, current: string): boolean {
  switch (type) {
    case "deb":
      return withoutDebRebuild(parseDebVersion(previous).revision) === withoutDebRebuild(parseDebVersion(current).revision);
    case "rpm":
      return false;
    default:
      return true;
  }
}

/**
 * How a package moved from `previous` to `current`:
 * "downgrade" when the package manager orders `current` lower (a revision going back included);
 * with epoch and upstream version unchanged, "rebuild" when only a build counter moved (or the two versions are
 * equal to the package manager but spelled differently) and "distribution-update" when the distribution changed
 * its package (a Debian stable or security revision, a new rpm release); "upgrade" otherwise.
 */
export function classifyChange(type: string, previous: string, current: string, ordering: VersionOrdering = {}): Classification {
  const order = compareVersions(type, previous, current, ordering);
  const before = majorComponent(type, previous);
  const after = majorComponent(type, current);
  const major = before !== undefined && after !== undefined && before !== after;
  if (order > 0) return { classification: "downgrade", major };
  if (order === 0) return { classification: "rebuild", major: false };
  if (upstreamOf(type, previous).withEpoch === upstreamOf(type, current).withEpoch) {
    return { classification: onlyRebuilt(type, previous, current) ? "rebuild" : "distribution-update", major: false };
  }
  return { classification: "upgrade", major };
}
