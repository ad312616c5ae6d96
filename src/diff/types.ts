import type { Digest, Platform } from "../reference/types.js";
import type { VulnerabilityDelta } from "../vuln/types.js";

/** One installed package, as read from a package database or an SBOM. */
export interface Package {
  /** "apk" | "deb" | "rpm", or the purl type of anything else an SBOM lists ("npm", "pypi", "golang", …). */
  readonly type: string;
  readonly name: string;
  readonly version: string;
  readonly arch?: string;
  /** Package URL, `pkg:apk/wolfi/busybox@1.36.1-r2?arch=x86_64`. */
  readonly purl?: string;
  /** Source package: apk `o:`, dpkg `Source:`. */
  readonly origin?: string;
}

/** Where a package list came from: an SBOM attestation, or the image's own package database. */
export type PackageSource = "sbom-spdx" | "sbom-cyclonedx" | "apk" | "dpkg" | "rpm";

export interface PackageList {
  readonly source: PackageSource;
  readonly packages: readonly Package[];
}

/** One side of a change, as Chainguard's image diff API spells it. */
export interface PackageRef {
  readonly version: string;
  /** Package URL of that version. */
  readonly reference: string;
}

/**
 * How a version moved, the upstream version the same for the last two: "rebuild", only a build counter moved
 * (apk `-rN`, a Debian binNMU `+bN` or Ubuntu `buildN`); "distribution-update", the distribution changed its
 * package (a Debian stable or security revision such as `+deb12u1 → +deb12u2`, a new rpm release).
 */
export type ChangeClassification = "upgrade" | "downgrade" | "distribution-update" | "rebuild";

export interface PackageChange {
  readonly name: string;
  readonly type: string;
  readonly arch?: string;
  readonly previous: PackageRef;
  readonly current: PackageRef;
  readonly classification: ChangeClassification;
  /** Source package (apk `o:`, dpkg `Source:`), where the list says. */
  readonly origin?: string;
  /** The first number of the upstream version changed (epochs ignored): `1.x → 2.x`. */
  readonly major: boolean;
}

export interface AddedPackage {
  readonly name: string;
  readonly version: string;
  /** Package URL. */
  readonly reference: string;
  readonly type: string;
  readonly arch?: string;
  /** Source package (apk `o:`, dpkg `Source:`), where the list says. */
  readonly origin?: string;
}

/**
 * The JSON shape of Chainguard's image diff API (`packages.added/removed/changed` with
 * `name`, `version`/`reference` or `previous`/`current`), so users' jq scripts carry over,
 * plus digesta's own fields (`type`, `arch`, `classification`, `major`, `warnings`).
 */
export interface PackageDiff {
  readonly packages: {
    readonly added: readonly AddedPackage[];
    readonly removed: readonly AddedPackage[];
    readonly changed: readonly PackageChange[];
  };
  /** One line each, for people: "no SBOM for the old image; read its apk database instead". */
  readonly warnings: readonly string[];
}

/** Where one side's packages came from, or "none" when neither an SBOM nor a package database was found. */
export type ImageDiffSource = PackageSource | "none";

/** The package diff of one image moving from one digest to another; filled by the registry side. */
export interface ImageDiff extends PackageDiff {
  /** Canonical image name: `cgr.dev/chainguard/static`, `docker.io/library/nginx`. */
  readonly image: string;
  readonly tag?: string;
  readonly from: Digest;
  readonly to: Digest;
  /** The platform compared, when the pins are indexes. */
  readonly platform?: Platform;
  readonly source?: { readonly previous: ImageDiffSource; readonly current: ImageDiffSource };
  /** Set when the package lists could not both be read: the empty lists then mean "unknown", not "unchanged". */
  readonly packagesUnknown?: true;
  /** Set when nothing needed comparing: the same digest, or different manifests over the same layers. */
  readonly unchanged?: "same-digest" | "same-layers";
  /** Vulnerabilities the update introduces and fixes; absent when no vulnerability source was asked. */
  readonly vulnerabilities?: VulnerabilityDelta;
  /** The sides that could not be read from the registry (manifest or layer): their packages are unknown, not absent. */
  readonly unreadable?: readonly ("old" | "new")[];
}
