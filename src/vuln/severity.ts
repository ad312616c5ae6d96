import type { Severity, SeverityCounts, VulnerabilityEntry } from "./types.js";
import { SEVERITIES } from "./types.js";

/** A scanner's or database's severity word, normalised; anything unknown is "unknown". */
export function severityOf(text: unknown): Severity {
  if (typeof text !== "string") return "unknown";
  const word = text.trim().toLowerCase();
  if (word === "critical") return "critical";
  if (word === "high" || word === "important") return "high";
  if (word === "medium" || word === "moderate") return "medium";
  if (word === "low" || word === "negligible") return "low";
  return "unknown";
}

/** The qualitative rating of a CVSS base score (CVSS v3.1 specification, table 14). */
export function severityOfScore(score: number): Severity {
  if (!Number.isFinite(score) || score <= 0) return "unknown";
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  return "low";
}

const WEIGHTS = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** CVSS v3.1 Roundup: the smallest number with one decimal that is equal to or higher than its input. */
function roundUp(value: number): number {
  const integer = Math.round(value * 100_000);
  return integer % 10_000 === 0 ? integer / 100_000 : (Math.floor(integer / 10_000) + 1) / 10;
}

/** The base score of a CVSS v3.0 or v3.1 vector (`CVSS:3.1/AV:N/AC:L/…`), or undefined when it is not one. */
export function cvss3BaseScore(vector: string): number | undefined {
  if (!/^CVSS:3\.[01]\//.test(vector)) return undefined;
  const metrics = new Map(
    vector
      .split("/")
      .slice(1)
      .map((part) => part.split(":") as [string, string]),
  );
  const get = <T extends Record<string, number>>(table: T, key: string): number | undefined => {
    const value = metrics.get(key);
    return value !== undefined && value in table ? table[value as keyof T] : undefined;
  };
  const scope = metrics.get("S");
  const av = get(WEIGHTS.AV, "AV");
  const ac = get(WEIGHTS.AC, "AC");
  const ui = get(WEIGHTS.UI, "UI");
  const c = get(WEIGHTS.CIA, "C");
  const i = get(WEIGHTS.CIA, "I");
  const a = get(WEIGHTS.CIA, "A");
  const prText = metrics.get("PR");
  if (av === undefined || ac === undefined || ui === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  if ((scope !== "U" && scope !== "C") || (prText !== "N" && prText !== "L" && prText !== "H")) return undefined;
  const changed = scope === "C";
  const pr = prText === "N" ? 0.85 : prText === "L" ? (changed ? 0.68 : 0.62) : changed ? 0.5 : 0.27;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return changed ? roundUp(Math.min(1.08 * (impact + exploitability), 10)) : roundUp(Math.min(impact + exploitability, 10));
}

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

/** How many entries of each severity. */
export function countBySeverity(entries: readonly VulnerabilityEntry[]): SeverityCounts {
  const counts: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const e of entries) counts[e.severity]++;
  return counts;
}

/** Critical first, then by id: the order a reviewer reads them in. */
export function bySeverity(a: VulnerabilityEntry, b: VulnerabilityEntry): number {
  return severityRank(a.severity) - severityRank(b.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || (a.package.name < b.package.name ? -1 : 1);
}
