import { parsePurl } from "../diff/parse/purl.js";
import type { PackageVersion } from "./source.js";

/** A package as OSV names it: its ecosystem (`Debian:12`, `Wolfi`, `npm`) and the name advisories are filed under. */
export interface OsvPackage {
  readonly ecosystem: string;
  readonly name: string;
}

/** purl type → OSV ecosystem, for language packages an SBOM lists. */
const LANGUAGE_ECOSYSTEMS: Readonly<Record<string, string>> = {
  npm: "npm",
  pypi: "PyPI",
  golang: "Go",
  maven: "Maven",
  cargo: "crates.io",
  gem: "RubyGems",
  nuget: "NuGet",
  composer: "Packagist",
  hex: "Hex",
  pub: "Pub",
  swift: "SwiftURL",
};

/** Distribution (purl namespace or os-release ID) → OSV ecosystem of its packages. */
const DISTRO_ECOSYSTEMS: Readonly<Record<string, string>> = {
  wolfi: "Wolfi",
  chainguard: "Chainguard",
  alpine: "Alpine",
  debian: "Debian",
  ubuntu: "Ubuntu",
  redhat: "Red Hat",
  rhel: "Red Hat",
  rocky: "Rocky Linux",
  almalinux: "AlmaLinux",
  opensuse: "openSUSE",
  "opensuse-leap": "openSUSE",
  sles: "SUSE",
  suse: "SUSE",
  mariner: "Azure Linux",
  azurelinux: "Azure Linux",
};

/** `debian-12`, `alpine-3.19.1` (the purl `distro` qualifier) → the release suffix OSV uses, where it uses one. */
function releaseSuffix(ecosystem: string, distro: string | undefined): string {
  const version = distro?.match(/^[a-z-]*?-?(\d+(?:\.\d+)*)$/)?.[1];
  if (!version) return "";
  if (ecosystem === "Debian") return `:${version.split(".")[0]}`;
  if (ecosystem === "Alpine") {
    const [major, minor] = version.split(".");
    return minor === undefined ? "" : `:v${major}.${minor}`;
  }
  return "";
}

/**
 * How OSV names a package, or undefined when OSV has no ecosystem for it. Distribution advisories of Debian,
 * Alpine and Wolfi are filed under the source package, so the origin is asked where known.
 */
export function osvPackageOf(p: PackageVersion): OsvPackage | undefined {
  const purl = parsePurl(p.reference);
  const type = purl?.type ?? p.type;
  const language = LANGUAGE_ECOSYSTEMS[type];
  if (language) {
    const name = purl ? osvLanguageName(type, purl.namespace, purl.name) : p.name;
    return { ecosystem: language, name };
  }
  if (type !== "apk" && type !== "deb" && type !== "rpm") return undefined;
  const distro = purl?.namespace?.toLowerCase() ?? (type === "deb" ? "debian" : type === "apk" ? "alpine" : undefined);
  const base = distro ? DISTRO_ECOSYSTEMS[distro] : undefined;
  if (!base) return undefined;
  const bySource = type === "deb" || type === "apk";
  return { ecosystem: base + releaseSuffix(base, purl?.qualifiers["distro"]), name: (bySource && p.origin) || purl?.name || p.name };
}

function osvLanguageName(type: string, namespace: string | undefined, name: string): string {
  if (!namespace) return name;
  if (type === "maven") return `${namespace}:${name}`;
  return `${namespace}/${name}`;
}
