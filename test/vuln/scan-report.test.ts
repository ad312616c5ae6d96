import { describe, expect, it } from "vitest";
import { parseVulnerabilityPredicate } from "../../src/vuln/scan-report.js";

describe("parseVulnerabilityPredicate", () => {
  it("reads Trivy's report, taking the first of several fixed versions", () => {
    const report = parseVulnerabilityPredicate({
      scanner: {
        uri: "pkg:github/aquasecurity/trivy@0.58.1",
        result: {
          Results: [
            { Target: "x", Vulnerabilities: [{ VulnerabilityID: "CVE-1", PkgName: "a", InstalledVersion: "1", Severity: "MEDIUM", FixedVersion: "1.1, 2.0.3" }] },
            { Target: "no findings" },
          ],
        },
      },
    });
    expect(report).toEqual({
      scanner: { name: "trivy", version: "0.58.1" },
      entries: [{ id: "CVE-1", aliases: [], severity: "medium", fixed: "1.1", package: { name: "a", version: "1", reference: "pkg:generic/a@1" } }],
    });
  });

  it("leaves out malformed and hostile findings instead of trusting them", () => {
    const report = parseVulnerabilityPredicate({
      scanner: {
        result: {
          matches: [
            { vulnerability: { id: "CVE-2" }, artifact: { name: "b" } }, // no version
            { vulnerability: { id: "](javascript:x)" }, artifact: { name: "c", version: "1" } },
            { vulnerability: { id: 42 }, artifact: { name: "d", version: "1" } },
            { vulnerability: { id: "CVE-3", severity: "Negligible" }, artifact: { name: "e", version: "1" }, relatedVulnerabilities: [{ id: "CVE-3" }, { id: "<b>" }] },
            null,
          ],
        },
      },
    });
    expect(report?.scanner.name).toBe("unknown scanner");
    expect(report?.entries.map((e) => [e.id, e.severity, e.aliases])).toEqual([["CVE-3", "low", []]]);
  });

  it("is undefined for a report in neither form", () => {
    expect(parseVulnerabilityPredicate({ scanner: { result: { runs: [] } } })).toBeUndefined();
    expect(parseVulnerabilityPredicate("nonsense")).toBeUndefined();
  });
});
