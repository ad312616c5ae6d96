import { describe, expect, it } from "vitest";
import { cvss3BaseScore, severityOf, severityOfScore } from "../../src/vuln/severity.js";

describe("cvss3BaseScore", () => {
  // Scores as NVD's CVSS v3.1 calculator gives them.
  it.each([
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5],
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1],
    ["CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0],
    ["CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2],
  ])("%s is %d", (vector, score) => {
    expect(cvss3BaseScore(vector)).toBe(score);
  });

  it("refuses what is not a complete v3 vector", () => {
    expect(cvss3BaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:3.1/AV:N/AC:L")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")).toBeUndefined();
  });
});

describe("severity words", () => {
  it("rates scores as CVSS does", () => {
    expect([9.8, 7, 6.9, 4, 3.9, 0.1, 0].map(severityOfScore)).toEqual(["critical", "high", "medium", "medium", "low", "low", "unknown"]);
  });
  it("normalises the words databases use, and nothing else", () => {
    expect(["CRITICAL", "Important", "moderate", "negligible", "High", "whatever", 5, undefined].map(severityOf)).toEqual([
      "critical",
      "high",
      "medium",
      "low",
      "high",
      "unknown",
      "unknown",
      "unknown",
    ]);
  });
});
