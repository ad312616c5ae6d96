// A small OSV-compatible API on loopback (POST /v1/querybatch, GET /v1/vulns/{id}) serving records written in the
// OSV schema by the test, so vulnerability lookups are exercised over real HTTP without reaching osv.dev.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** The parts of an OSV record the server matches on; anything else in it is served as written. */
export interface OsvRecord {
  readonly id: string;
  readonly aliases?: readonly string[];
  readonly summary?: string;
  readonly severity?: readonly { type: string; score: string }[];
  readonly database_specific?: Record<string, unknown>;
  readonly affected: readonly {
    readonly package: { ecosystem: string; name: string };
    /** Explicit affected versions: the server matches on these alone (no version ordering in the fake). */
    readonly versions: readonly string[];
    readonly ranges?: readonly { type: string; events: readonly Record<string, string>[] }[];
  }[];
}

export interface OsvRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

export interface TestOsv {
  readonly url: string;
  readonly requests: OsvRequest[];
  /** The queries of every querybatch, flattened: what digesta asked about. */
  queries(): { ecosystem: string; name: string; version: string }[];
  stop(): Promise<void>;
}

export interface OsvServerOptions {
  /** Results per page of a query before `next_page_token` (to exercise pagination). Default: all. */
  readonly pageSize?: number;
  /** Answer every request with this status instead. */
  readonly failWith?: number;
}

const read = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

const baseEcosystem = (e: string) => e.split(":")[0];

export async function startOsv(records: readonly OsvRecord[], options: OsvServerOptions = {}): Promise<TestOsv> {
  const requests: OsvRequest[] = [];
  const matches = (ecosystem: string, name: string, version: string): string[] =>
    records
      .filter((r) =>
        r.affected.some(
          (a) =>
            a.package.name === name &&
            (a.package.ecosystem === ecosystem || baseEcosystem(a.package.ecosystem) === ecosystem) &&
            a.versions.includes(version),
        ),
      )
      .map((r) => r.id);

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://osv");
    const text = req.method === "POST" ? await read(req) : "";
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    requests.push({ method: req.method ?? "", path: url.pathname, ...(body !== undefined ? { body } : {}) });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (options.failWith) return json(options.failWith, { code: options.failWith, message: "failing on purpose" });
    if (req.method === "POST" && url.pathname === "/v1/querybatch") {
      const queries = (body as { queries: { package: { ecosystem: string; name: string }; version: string; page_token?: string }[] }).queries;
      const results = queries.map((q) => {
        const ids = matches(q.package.ecosystem, q.package.name, q.version);
        const start = q.page_token ? Number(q.page_token) : 0;
        const size = options.pageSize ?? ids.length;
        const page = ids.slice(start, start + size);
        const more = start + size < ids.length;
        return {
          ...(page.length > 0 ? { vulns: page.map((id) => ({ id, modified: "2026-11-01T00:00:00Z" })) } : {}),
          ...(more ? { next_page_token: String(start + size) } : {}),
        };
      });
      return json(200, { results });
    }
    const vuln = url.pathname.match(/^\/v1\/vulns\/(.+)$/);
    if (req.method === "GET" && vuln) {
      const record = records.find((r) => r.id === decodeURIComponent(vuln[1]!));
      return record ? json(200, record) : json(404, { code: 5, message: "Bug not found." });
    }
    json(404, { code: 5, message: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queries: () =>
      requests
        .filter((r) => r.path === "/v1/querybatch")
        .flatMap((r) => (r.body as { queries: { package: { ecosystem: string; name: string }; version: string }[] }).queries)
        .map((q) => ({ ecosystem: q.package.ecosystem, name: q.package.name, version: q.version })),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
