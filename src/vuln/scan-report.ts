import { isVulnerabilityId } from "./osv.js";
import { severityOf } from "./severity.js";
import type { VulnerabilityEntry, VulnerabilityScanner } from "./types.js";

/** cosign's vulnerability attestation (`cosign attest --type vuln`), whose `scanner.result` is the scanner's own report. */
export const VULN_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/vuln/v1";

/** More findings than any real image has; a report past it is cut there. */
const MAX_FINDINGS = 50_000;

export interface ScanReport {
  readonly scanner: VulnerabilityScanner;
  readonly entries: readonly VulnerabilityEntry[];
}

type Json = Record<string, unknown>;
const object = (v: unknown): Json => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});
const array = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown, max = 200): string | undefined => (typeof v === "string" && v.length > 0 && v.length <= max ? v : undefined);

/** `pkg:github/aquasecurity/trivy@0.50.0` → trivy 0.50.0; anything else as its last path segment. */
function scannerOf(predicate: Json): VulnerabilityScanner {
  const scanner = object(predicate["scanner"]);
  const uri = text(scanner["uri"], 500) ?? "";
  const match = uri.match(/([^/@]+)(?:@([^?#]+))?(?:[?#].*)?$/);
  const version = text(scanner["version"]) ?? match?.[2];
  return { name: match?.[1] ?? "unknown scanner", ...(version ? { version } : {}) };
}

/**
 * The findings of a cosign vulnerability attestation's predicate: Trivy's JSON report (`Results[].Vulnerabilities`)
 * or Grype's (`matches`). Undefined when the report is in neither form; malformed findings are left out.
 */
export function parseVulnerabilityPredicate(predicate: unknown): ScanReport | undefined {
  const p = object(predicate);
  const result = object(object(p["scanner"])["result"]);
  const entries = Array.isArray(result["Results"]) ? trivyFindings(result) : Array.isArray(result["matches"]) ? grypeFindings(result) : undefined;
  return entries && { scanner: scannerOf(p), entries };
}

function entry(fields: { id: unknown; aliases: unknown[]; severity: unknown; name: unknown; version: unknown; purl: unknown; fixed: unknown }): VulnerabilityEntry | undefined {
  const id = text(fields.id, 100);
  const name = text(fields.name);
  const version = text(fields.version);
  if (!id || !isVulnerabilityId(id) || !name || !version) return undefined;
  const aliases = [...new Set(fields.aliases.flatMap((a) => (typeof a === "string" && isVulnerabilityId(a) && a !== id ? [a] : [])))];
  const fixed = text(fields.fixed);
  const reference = text(fields.purl, 1000) ?? `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
  return { id, aliases, severity: severityOf(fields.severity), package: { name, version, reference }, ...(fixed ? { fixed } : {}) };
}

function trivyFindings(result: Json): VulnerabilityEntry[] {
  const out: VulnerabilityEntry[] = [];
  for (const target of array(result["Results"])) {
    for (const v of array(object(target)["Vulnerabilities"])) {
      if (out.length >= MAX_FINDINGS) return out;
      const f = object(v);
      const e = entry({
        id: f["VulnerabilityID"],
        aliases: array(f["VendorIDs"]),
        severity: f["Severity"],
        name: f["PkgName"],
        version: f["InstalledVersion"],
        purl: object(f["PkgIdentifier"])["PURL"],
        fixed: typeof f["FixedVersion"] === "string" ? f["FixedVersion"].split(",")[0]?.trim() : undefined,
      });
      if (e) out.push(e);
    }
  }
  return out;
}

function grypeFindings(result: Json): VulnerabilityEntry[] {
  const out: VulnerabilityEntry[] = [];
  for (const m of array(result["matches"])) {
    if (out.length >= MAX_FINDINGS) return out;
    const match = object(m);
    const vuln = object(match["vulnerability"]);
    const artifact = object(match["artifact"]);
    const e = entry({
      id: vuln["id"],
      aliases: array(match["relatedVulnerabilities"]).map((r) => object(r)["id"]),
      severity: vuln["severity"],
      name: artifact["name"],
      version: artifact["version"],
      purl: artifact["purl"],
      fixed: array(object(vuln["fix"])["versions"])[0],
    });
    if (e) out.push(e);
  }
  return out;
}
