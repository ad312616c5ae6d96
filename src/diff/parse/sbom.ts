import type { Package, PackageSource } from "../types.js";
import { AttestationError, parseJsonDocument } from "./attestation.js";
import { cleanField, MAX_PACKAGES } from "./fields.js";
import { parsePurl, type Purl } from "./purl.js";

export type SbomSource = Extract<PackageSource, "sbom-spdx" | "sbom-cyclonedx">;

/** The PackageSource an in-toto predicate type stands for, or undefined when it is not an SBOM digesta reads. */
export function sbomSourceOf(predicateType: string): SbomSource | undefined {
  if (predicateType.startsWith("https://spdx.dev/Document")) return "sbom-spdx";
  if (predicateType.startsWith("https://cyclonedx.org/bom")) return "sbom-cyclonedx";
  return undefined;
}

/** Purl types that name the image (or another image) itself, never a package inside it. */
const IMAGE_PURL_TYPES = new Set(["oci", "docker"]);
/** Distribution package types whose purl namespace is the distribution, not part of the name. */
const DISTRO_PURL_TYPES = new Set(["apk", "deb", "rpm", "alpm", "alpine"]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const asString = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** cosign's older predicates wrap the document: `{"Data": <document or its JSON text>, "Timestamp": …}`. */
function unwrapPredicate(predicate: unknown): unknown {
  let p = predicate;
  if (isRecord(p) && "Data" in p && !("packages" in p) && !("components" in p)) p = p["Data"];
  if (typeof p === "string") {
    const text = p;
    if (!/^\s*[[{]/.test(text)) throw new AttestationError("the SBOM predicate is text but not JSON (tag-value SPDX is not read)");
    p = parseJsonDocument(text, "the SBOM predicate");
  }
  return p;
}

/** The package one purl names, with the SBOM's own version when the purl has none. */
export function packageFromPurl(purlText: string, fallbackVersion?: string): Package | undefined {
  const purl: Purl | undefined = parsePurl(purlText);
  if (!purl || IMAGE_PURL_TYPES.has(purl.type)) return undefined;
  const name = cleanField(
    DISTRO_PURL_TYPES.has(purl.type) || !purl.namespace
      ? purl.name
      : `${purl.namespace}${purl.type === "maven" ? ":" : "/"}${purl.name}`,
  );
  let version = cleanField(purl.version ?? fallbackVersion);
  if (!name || !version) return undefined;
  const epoch = purl.qualifiers["epoch"];
  if (purl.type === "rpm" && epoch && /^\d+$/.test(epoch) && !version.includes(":")) version = `${epoch}:${version}`;
  const arch = cleanField(purl.qualifiers["arch"]);
  const origin = cleanField(purl.qualifiers["upstream"]);
  return {
    type: purl.type,
    name,
    version,
    ...(arch ? { arch } : {}),
    purl: purlText.trim(),
    ...(origin ? { origin } : {}),
  };
}

/**
 * The package manager an SPDX package came from, where the document says so without a purl: in its `sourceInfo`
 * (Syft writes "acquired package info from RPM DB: /var/lib/rpm/rpmdb.sqlite"); "generic" when it does not say.
 */
function spdxEcosystem(p: Record<string, unknown>): string {
  const info = asString(p["sourceInfo"])?.slice(0, 1000) ?? "";
  if (/\brpm\b/i.test(info)) return "rpm";
  if (/\bapk\b|alpine|wolfi/i.test(info)) return "apk";
  if (/\bdpkg\b|\bdeb\b|debian/i.test(info)) return "deb";
  return "generic";
}

/** An SPDX package that names no purl, by its name and version (SPDX does not require purls: Red Hat's do without). */
function spdxPackageByName(p: Record<string, unknown>): Package | undefined {
  const name = cleanField(asString(p["name"]));
  const version = cleanField(asString(p["versionInfo"]));
  if (!name || !version || version === "NOASSERTION") return undefined;
  if (p["primaryPackagePurpose"] === "OPERATING-SYSTEM" || p["primaryPackagePurpose"] === "CONTAINER") return undefined;
  return { type: spdxEcosystem(p), name, version };
}

/**
 * SPDX 2.x JSON: `packages[].externalRefs[]` of type purl, or a package's name and version when it names no purl;
 * the packages the document describes (the image) skipped.
 */
function spdxPackages(doc: Record<string, unknown>): Package[] {
  if (!("packages" in doc) && ("@graph" in doc || "@context" in doc)) {
    throw new AttestationError("the SPDX document is SPDX 3 (JSON-LD), which digesta does not read yet");
  }
  const packages = doc["packages"];
  if (packages === undefined) return [];
  if (!Array.isArray(packages)) throw new AttestationError("the SPDX document's packages is not a list");

  const described = new Set<string>();
  const documentDescribes = doc["documentDescribes"];
  if (Array.isArray(documentDescribes)) for (const id of documentDescribes) if (typeof id === "string") described.add(id);
  const documentId = asString(doc["SPDXID"]) ?? "SPDXRef-DOCUMENT";
  const relationships = doc["relationships"];
  if (Array.isArray(relationships)) {
    for (const r of relationships) {
      if (!isRecord(r) || r["relationshipType"] !== "DESCRIBES" || r["spdxElementId"] !== documentId) continue;
      const target = asString(r["relatedSpdxElement"]);
      if (target) described.add(target);
    }
  }

  const out: Package[] = [];
  for (const p of packages) {
    if (out.length > MAX_PACKAGES) break;
    if (!isRecord(p)) continue;
    const id = asString(p["SPDXID"]);
    if (id !== undefined && described.has(id)) continue;
    const refs = Array.isArray(p["externalRefs"]) ? (p["externalRefs"] as unknown[]) : [];
    const purls = refs.filter((ref): ref is Record<string, unknown> => isRecord(ref) && ref["referenceType"] === "purl");
    let pkg: Package | undefined;
    for (const ref of purls) {
      const locator = asString(ref["referenceLocator"]);
      pkg = (locator && packageFromPurl(locator, asString(p["versionInfo"]))) || undefined;
      if (pkg) break;
    }
    if (purls.length === 0) pkg = spdxPackageByName(p);
    if (pkg) out.push(pkg);
  }
  return out;
}

/** CycloneDX JSON: `components[].purl`, nested components included; the BOM's own subject is not a component. */
function cyclonedxPackages(doc: Record<string, unknown>): Package[] {
  const components = doc["components"];
  if (components === undefined) return [];
  if (!Array.isArray(components)) throw new AttestationError("the CycloneDX document's components is not a list");
  const out: Package[] = [];
  // An explicit stack: hostile documents may nest components arbitrarily deep.
  const stack: unknown[] = [...components].reverse();
  while (stack.length > 0 && out.length <= MAX_PACKAGES) {
    const c = stack.pop();
    if (!isRecord(c)) continue;
    const purl = asString(c["purl"]);
    const pkg = purl && packageFromPurl(purl, asString(c["version"]));
    if (pkg) out.push(pkg);
    const nested = c["components"];
    if (Array.isArray(nested)) for (let i = nested.length - 1; i >= 0; i--) stack.push(nested[i]);
  }
  return out;
}

/** The same package listed twice (by several tools, or once per file it owns) counts once. */
function dedupe(packages: Package[]): Package[] {
  const seen = new Set<string>();
  return packages.filter((p) => {
    const key = `${p.type}\u0000${p.name}\u0000${p.version}\u0000${p.arch ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The packages an SBOM predicate lists (SPDX 2.x JSON or CycloneDX JSON), identified by purl, or for SPDX packages
 * without one by name and version; CycloneDX components without a purl, and the image itself (`pkg:oci`,
 * `pkg:docker`, what an SPDX document DESCRIBES), are skipped; duplicates count once. Returns undefined when `predicateType` is not an SBOM type; throws AttestationError when it claims
 * to be one but the predicate is not a document digesta can read.
 */
export function packagesFromSbom(predicateType: string, predicate: unknown): Package[] | undefined {
  const source = sbomSourceOf(predicateType);
  if (source === undefined) return undefined;
  const doc = unwrapPredicate(predicate);
  if (!isRecord(doc)) throw new AttestationError(`the ${source === "sbom-spdx" ? "SPDX" : "CycloneDX"} predicate is not a JSON object`);
  const packages = source === "sbom-spdx" ? spdxPackages(doc) : cyclonedxPackages(doc);
  if (packages.length > MAX_PACKAGES) throw new AttestationError(`the SBOM lists more than ${MAX_PACKAGES} packages, more than any real image; not read`);
  return dedupe(packages);
}
