import pLimit from "p-limit";
import { cvss3BaseScore, severityOf, severityOfScore } from "./severity.js";
import { osvPackageOf, type OsvPackage } from "./ecosystem.js";
import { VulnerabilitySourceError, type PackageVersion, type PackageVulnerabilitySource, type VulnerabilitiesByPackage } from "./source.js";
import type { Severity, VulnerabilityEntry } from "./types.js";

export { PUBLIC_OSV_URL, osvUrlFrom } from "./osv-url.js";

export interface OsvSourceOptions {
  /** Base URL of an OSV-compatible API (`/v1/querybatch`, `/v1/vulns/{id}`). */
  readonly url: string;
  readonly fetch?: typeof fetch;
  /** Deadline of each request. Default 15 s. */
  readonly timeoutMs?: number;
  /** Largest response body read. Default 16 MiB. */
  readonly maxResponseBytes?: number;
  /** Records kept in memory (queries and vulnerabilities each). Default 20 000. */
  readonly maxCachedEntries?: number;
  /** After a failure, how long lookups fail at once without asking again. Default 10 minutes (one sweep). */
  readonly failureCooldownMs?: number;
  readonly now?: () => number;
}

/** Queries per `/v1/querybatch` request: OSV takes up to 1 000. */
const BATCH_SIZE = 1000;
/** `next_page_token` pages followed per batch; a package with more vulnerabilities than that is not a real one. */
const MAX_PAGES = 10;
const DETAIL_CONCURRENCY = 8;

interface OsvRecord {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly summary?: string;
  readonly severity: Severity;
  /** Per affected package (`ecosystem\0name`), the first fixed version its ranges name. */
  readonly fixed: ReadonlyMap<string, string>;
}

/**
 * OSV as a vulnerability source: one `querybatch` for the package versions not seen before in this process, then
 * each vulnerability's record once. A failure (unreachable, timed out, an answer that is not OSV's) makes every
 * lookup in the next `failureCooldownMs` fail at once with the same reason, so an unreachable source costs one
 * attempt per run, not one per package.
 */
export function createOsvSource(options: OsvSourceOptions): PackageVulnerabilitySource {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const maxEntries = options.maxCachedEntries ?? 20_000;
  // A private mirror's user and password go in an Authorization header, never in a URL that an error could print.
  const { base, authorization } = splitCredentials(options.url);
  const shownBase = base;
  const idsByQuery = new Map<string, readonly string[]>();
  const records = new Map<string, Promise<OsvRecord | undefined>>();
  const cooldownMs = options.failureCooldownMs ?? 10 * 60_000;
  const now = options.now ?? Date.now;
  let broken: { error: VulnerabilitySourceError; until: number } | undefined;

  const remember = <K, V>(map: Map<K, V>, key: K, value: V): void => {
    if (map.size >= maxEntries) map.delete(map.keys().next().value as K);
    map.set(key, value);
  };

  async function request(path: string, init: RequestInit, signal?: AbortSignal): Promise<unknown> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let response: Response;
    try {
      const headers = { ...(init.headers as Record<string, string> | undefined), ...(authorization ? { authorization } : {}) };
      response = await doFetch(`${base}${path}`, { ...init, headers, signal: combined, redirect: "error" });
    } catch (error) {
      signal?.throwIfAborted();
      const reason = deadline.aborted ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      throw new VulnerabilitySourceError(`could not reach the OSV service at ${shownBase}: ${reason}`);
    }
    if (response.status === 404 && init.method !== "POST") {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new VulnerabilitySourceError(`the OSV service at ${shownBase} answered ${response.status} to ${path.split("?")[0]}`);
    }
    const text = await readCapped(response, maxBytes, shownBase);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new VulnerabilitySourceError(`the OSV service at ${shownBase} answered ${path} with something that is not JSON`);
    }
  }

  async function queryIds(queries: readonly { key: string; pkg: OsvPackage; version: string }[], signal?: AbortSignal): Promise<void> {
    for (let start = 0; start < queries.length; start += BATCH_SIZE) {
      const batch = queries.slice(start, start + BATCH_SIZE);
      const ids = batch.map(() => new Set<string>());
      let pending = batch.map((q, i) => ({ i, query: { package: { ecosystem: q.pkg.ecosystem, name: q.pkg.name }, version: q.version } as Record<string, unknown> }));
      for (let page = 0; pending.length > 0 && page < MAX_PAGES; page++) {
        const answer = await request("/v1/querybatch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ queries: pending.map((p) => p.query) }),
        }, signal);
        const results = (answer as { results?: unknown } | undefined)?.results;
        if (!Array.isArray(results) || results.length !== pending.length) {
          throw new VulnerabilitySourceError(`the OSV service at ${shownBase} answered ${pending.length} queries with ${Array.isArray(results) ? results.length : "no"} results`);
        }
        const next: typeof pending = [];
        results.forEach((result: unknown, n) => {
          const entry = pending[n]!;
          const r = (result ?? {}) as { vulns?: unknown; next_page_token?: unknown };
          if (Array.isArray(r.vulns)) {
            for (const v of r.vulns) {
              const id = (v as { id?: unknown })?.id;
              if (typeof id === "string" && isVulnerabilityId(id)) ids[entry.i]!.add(id);
            }
          }
          if (typeof r.next_page_token === "string" && r.next_page_token) next.push({ i: entry.i, query: { ...entry.query, page_token: r.next_page_token } });
        });
        pending = next;
      }
      batch.forEach((q, i) => remember(idsByQuery, q.key, [...ids[i]!]));
    }
  }

  function record(id: string, signal?: AbortSignal): Promise<OsvRecord | undefined> {
    let known = records.get(id);
    if (!known) {
      known = request(`/v1/vulns/${encodeURIComponent(id)}`, { method: "GET" }, signal).then((json) => (json === undefined ? undefined : parseRecord(id, json)));
      known.catch(() => records.delete(id));
      remember(records, id, known);
    }
    return known;
  }

  // One lookup at a time: images diffed side by side then share what the first learnt, a failure included.
  const oneAtATime = pLimit(1);
  return {
    scanner: { name: "osv", version: shownBase },
    lookup: (packages, signal) => oneAtATime(() => lookup(packages, signal)),
  };

  async function lookup(packages: readonly PackageVersion[], signal?: AbortSignal): Promise<VulnerabilitiesByPackage> {
    if (broken && now() < broken.until) throw broken.error;
    try {
      const asked = packages.flatMap((p) => {
        const pkg = osvPackageOf(p);
        return pkg ? [{ p, pkg, key: `${pkg.ecosystem}\u0000${pkg.name}\u0000${p.version}` }] : [];
      });
      const unseen = new Map<string, { key: string; pkg: OsvPackage; version: string }>();
      for (const a of asked) if (!idsByQuery.has(a.key)) unseen.set(a.key, { key: a.key, pkg: a.pkg, version: a.p.version });
      await queryIds([...unseen.values()], signal);

      const limit = pLimit(DETAIL_CONCURRENCY);
      const out = new Map<string, VulnerabilityEntry[]>();
      await Promise.all(
        asked.map(async ({ p, pkg, key }) => {
          const ids = idsByQuery.get(key) ?? [];
          const found = await Promise.all(ids.map((id) => limit(() => record(id, signal))));
          const entries = found.flatMap((r) => (r ? [entryOf(r, p, pkg)] : []));
          if (entries.length > 0) out.set(p.reference, entries);
        }),
      );
      return out;
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof VulnerabilitySourceError) broken = { error, until: now() + cooldownMs };
      throw error;
    }
  }
}

/** OSV ids are short words: `CVE-2024-1234`, `GHSA-xxxx-xxxx-xxxx`, `DSA-5555-1`, `CGA-…`, `ALPINE-CVE-…`. */
export function isVulnerabilityId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(id);
}

function entryOf(r: OsvRecord, p: PackageVersion, pkg: OsvPackage): VulnerabilityEntry {
  const fixed = r.fixed.get(`${pkg.ecosystem}\u0000${pkg.name}`) ?? r.fixed.get(`${pkg.ecosystem.split(":")[0]}\u0000${pkg.name}`);
  return {
    id: r.id,
    aliases: r.aliases,
    severity: r.severity,
    package: { name: p.name, version: p.version, reference: p.reference },
    ...(fixed ? { fixed } : {}),
    ...(r.summary ? { summary: r.summary } : {}),
  };
}

/** The parts of an OSV record digesta shows; anything malformed is left out rather than trusted. */
export function parseRecord(id: string, json: unknown): OsvRecord {
  const o = (json && typeof json === "object" ? json : {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string" && isVulnerabilityId(s)) : []);
  const aliases = [...new Set([...strings(o["aliases"]), ...strings(o["upstream"])])].filter((a) => a !== id);
  aliases.sort((a, b) => Number(!a.startsWith("CVE-")) - Number(!b.startsWith("CVE-")) || (a < b ? -1 : 1));
  const fixed = new Map<string, string>();
  const affected = Array.isArray(o["affected"]) ? o["affected"] : [];
  let severity: Severity = severityFrom(o["severity"], o["database_specific"]);
  for (const a of affected) {
    const entry = (a ?? {}) as Record<string, unknown>;
    const pkg = (entry["package"] ?? {}) as Record<string, unknown>;
    if (severity === "unknown") severity = severityFrom(entry["severity"], entry["ecosystem_specific"] ?? entry["database_specific"]);
    if (typeof pkg["ecosystem"] !== "string" || typeof pkg["name"] !== "string") continue;
    const ranges = Array.isArray(entry["ranges"]) ? entry["ranges"] : [];
    for (const range of ranges) {
      const events = Array.isArray((range as Record<string, unknown>)?.["events"]) ? ((range as Record<string, unknown>)["events"] as unknown[]) : [];
      const fix = events.map((e) => (e as Record<string, unknown>)?.["fixed"]).find((f): f is string => typeof f === "string" && f.length <= 200);
      const key = `${pkg["ecosystem"]}\u0000${pkg["name"]}`;
      if (fix && !fixed.has(key)) fixed.set(key, fix);
    }
  }
  const summary = typeof o["summary"] === "string" ? o["summary"].slice(0, 300) : undefined;
  return { id, aliases, severity, fixed, ...(summary ? { summary } : {}) };
}

/** Severity from OSV `severity` entries (CVSS v3 vectors, Ubuntu's words) or a database's own word. */
function severityFrom(entries: unknown, specific: unknown): Severity {
  const word = (specific as Record<string, unknown> | undefined)?.["severity"];
  const named = severityOf(word);
  if (named !== "unknown") return named;
  let best: Severity = "unknown";
  for (const e of Array.isArray(entries) ? entries : []) {
    const { type, score } = (e ?? {}) as Record<string, unknown>;
    if (typeof score !== "string") continue;
    const s = type === "CVSS_V3" ? severityOfScore(cvss3BaseScore(score) ?? 0) : severityOf(score);
    if (s !== "unknown" && (best === "unknown" || ["critical", "high", "medium", "low"].indexOf(s) < ["critical", "high", "medium", "low"].indexOf(best))) best = s;
  }
  return best;
}

/** The base URL without user name and password (safe to print), and those as a Basic Authorization header. */
function splitCredentials(text: string): { base: string; authorization?: string } {
  const url = new URL(text);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = "";
  url.password = "";
  const base = url.href.replace(/\/+$/, "");
  if (!user && !password) return { base };
  return { base, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

async function readCapped(response: Response, maxBytes: number, shownBase: string): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new VulnerabilitySourceError(`the OSV service at ${shownBase} sent ${declared} bytes, over the ${maxBytes}-byte limit`);
  }
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new VulnerabilitySourceError(`the OSV service at ${shownBase} sent more than the ${maxBytes}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
