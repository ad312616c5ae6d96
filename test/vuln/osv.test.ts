// The OSV adapter over real HTTP, against an OSV-compatible server the test starts on loopback.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createOsvSource, osvUrlFrom, PUBLIC_OSV_URL } from "../../src/vuln/osv.js";
import { VulnerabilitySourceError, type PackageVersion } from "../../src/vuln/source.js";
import { startOsv, type OsvRecord, type TestOsv } from "../support/osv-server.js";

const wolfi = (name: string, version: string, origin?: string): PackageVersion => ({
  type: "apk",
  name,
  version,
  reference: `pkg:apk/wolfi/${name}@${version}?arch=x86_64`,
  ...(origin ? { origin } : {}),
});

const RECORDS: OsvRecord[] = [
  {
    id: "CGA-aaaa-bbbb-cccc",
    aliases: ["GHSA-zzzz-yyyy-xxxx", "CVE-2024-0001"],
    summary: "openssl: a buffer overread",
    severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
    affected: [
      {
        package: { ecosystem: "Wolfi", name: "openssl" },
        versions: ["3.1.4-r1"],
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "3.1.4-r2" }] }],
      },
    ],
  },
  {
    id: "CVE-2024-0002",
    database_specific: { severity: "MODERATE" },
    affected: [{ package: { ecosystem: "Wolfi", name: "openssl" }, versions: ["3.1.4-r1", "3.2.0-r0"] }],
  },
];

let osv: TestOsv | undefined;
afterEach(async () => {
  await osv?.stop();
  osv = undefined;
});

describe("the OSV source", () => {
  it("asks once per package version, by source package, and reads severity, aliases and the fixed version", async () => {
    osv = await startOsv(RECORDS);
    const source = createOsvSource({ url: osv.url });
    const found = await source.lookup([wolfi("libcrypto3", "3.1.4-r1", "openssl"), wolfi("libcrypto3", "3.2.0-r0", "openssl"), wolfi("zlib", "1.3-r0")]);
    const old = found.get(wolfi("libcrypto3", "3.1.4-r1").reference) ?? [];
    expect(old.map((v) => [v.id, v.severity])).toEqual([
      ["CGA-aaaa-bbbb-cccc", "critical"],
      ["CVE-2024-0002", "medium"],
    ]);
    expect(old[0]).toMatchObject({
      aliases: ["CVE-2024-0001", "GHSA-zzzz-yyyy-xxxx"],
      fixed: "3.1.4-r2",
      package: { name: "libcrypto3", version: "3.1.4-r1" },
    });
    expect((found.get(wolfi("libcrypto3", "3.2.0-r0").reference) ?? []).map((v) => v.id)).toEqual(["CVE-2024-0002"]);
    expect(found.has(wolfi("zlib", "1.3-r0").reference)).toBe(false);
    expect(osv.queries()).toEqual([
      { ecosystem: "Wolfi", name: "openssl", version: "3.1.4-r1" },
      { ecosystem: "Wolfi", name: "openssl", version: "3.2.0-r0" },
      { ecosystem: "Wolfi", name: "zlib", version: "1.3-r0" },
    ]);

    const before = osv.requests.length;
    await source.lookup([wolfi("libcrypto3", "3.1.4-r1", "openssl")]);
    expect(osv.requests.length).toBe(before); // answered from what this process already knows
  });

  it("follows next_page_token until every vulnerability of a package is listed", async () => {
    osv = await startOsv(RECORDS, { pageSize: 1 });
    const found = await createOsvSource({ url: osv.url }).lookup([wolfi("openssl", "3.1.4-r1")]);
    expect((found.get(wolfi("openssl", "3.1.4-r1").reference) ?? []).map((v) => v.id).sort()).toEqual(["CGA-aaaa-bbbb-cccc", "CVE-2024-0002"]);
    expect(osv.requests.filter((r) => r.path === "/v1/querybatch")).toHaveLength(2);
  });

  it("costs one failed attempt, not one per package, when the service cannot answer", async () => {
    osv = await startOsv(RECORDS, { failWith: 503 });
    const source = createOsvSource({ url: osv.url });
    await expect(source.lookup([wolfi("openssl", "3.1.4-r1")])).rejects.toThrow(/answered 503/);
    await expect(source.lookup([wolfi("zlib", "1.3-r0")])).rejects.toThrow(/answered 503/);
    expect(osv.requests).toHaveLength(1);
  });

  it("asks again once the failure has cooled down", async () => {
    osv = await startOsv(RECORDS, { failWith: 500 });
    let clock = 0;
    const source = createOsvSource({ url: osv.url, failureCooldownMs: 1000, now: () => clock });
    await expect(source.lookup([wolfi("openssl", "3.1.4-r1")])).rejects.toThrow(VulnerabilitySourceError);
    clock = 1001;
    await expect(source.lookup([wolfi("openssl", "3.1.4-r1")])).rejects.toThrow(VulnerabilitySourceError);
    expect(osv.requests).toHaveLength(2);
  });

  it("refuses answers that are not OSV's: not JSON, the wrong number of results, too large, too slow", async () => {
    const answers: ((res: import("node:http").ServerResponse) => void)[] = [
      (res) => res.end("<html>proxy login</html>"),
      (res) => res.end(JSON.stringify({ results: [] })),
      (res) => res.end(JSON.stringify({ results: [{ vulns: [{ id: "x".repeat(5000) }] }], pad: "y".repeat(4096) })),
      () => {}, // never answers
    ];
    const expected = [/not JSON/, /1 queries with 0 results/, /over the 1024-byte limit|more than the 1024-byte limit/, /no answer within 500 ms/];
    for (const [i, answer] of answers.entries()) {
      const server = createServer((_req, res) => answer(res));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // Only the server that never answers may run into the deadline; the others get all the time a loaded machine needs.
      const timeoutMs = i === answers.length - 1 ? 500 : 30_000;
      const source = createOsvSource({ url, maxResponseBytes: 1024, timeoutMs });
      await expect(source.lookup([wolfi("openssl", "3.1.4-r1")])).rejects.toThrow(expected[i]!);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("names an unreachable service without the credentials in its URL", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const source = createOsvSource({ url: `http://user:s3cret@127.0.0.1:${port}` });
    const error = await source.lookup([wolfi("openssl", "3.1.4-r1")]).catch((e: Error) => e);
    expect(String(error)).toMatch(/could not reach the OSV service at http:\/\/127\.0\.0\.1/);
    expect(String(error)).not.toContain("s3cret");
  });

  it("takes its URL from the option, then DIGESTA_OSV_URL, then the public service; off turns it off", () => {
    expect(osvUrlFrom(undefined, {})).toBe(PUBLIC_OSV_URL);
    expect(osvUrlFrom(undefined, { DIGESTA_OSV_URL: "http://127.0.0.1:9/" })).toBe("http://127.0.0.1:9");
    expect(osvUrlFrom("off", { DIGESTA_OSV_URL: "http://127.0.0.1:9" })).toBeUndefined();
    expect(osvUrlFrom(undefined, { DIGESTA_OSV_URL: "OFF" })).toBeUndefined();
    expect(() => osvUrlFrom("ftp://x", {})).toThrow(/http\(s\), not ftp:/);
    expect(() => osvUrlFrom("not a url", {})).toThrow(/is not a URL/);
  });
});

describe("a private OSV mirror", () => {
  it("gets the URL's user and password as Basic auth, never in the request line", async () => {
    osv = await startOsv(RECORDS);
    const seen: (string | undefined)[] = [];
    const port = new URL(osv.url).port;
    const source = createOsvSource({
      url: `http://reader:s3cret@127.0.0.1:${port}`,
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers).get("authorization") ?? undefined);
        expect(String(input)).not.toContain("s3cret");
        return fetch(input, init);
      },
    });
    await source.lookup([wolfi("openssl", "3.1.4-r1")]);
    expect(seen[0]).toBe(`Basic ${Buffer.from("reader:s3cret").toString("base64")}`);
  });
});
