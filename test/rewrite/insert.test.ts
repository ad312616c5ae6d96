import { describe, expect, it } from "vitest";
import { applyDigestInsertions } from "../../src/rewrite/insert.js";
import { StaleEditError } from "../../src/rewrite/rewrite.js";
import type { Digest } from "../../src/reference/types.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}` as Digest;
const E = `sha256:${"fedcba9876543210".repeat(4)}` as Digest;

describe("applyDigestInsertions", () => {
  it("appends @digest after each reference and keeps every other byte", () => {
    const text = 'FROM a:1 AS b\r\nimage: "c:2" # x\tend';
    const out = applyDigestInsertions(text, [
      { offset: text.indexOf("c:2"), reference: "c:2", digest: E },
      { offset: 5, reference: "a:1", digest: D },
    ]);
    expect(out).toBe(`FROM a:1@${D} AS b\r\nimage: "c:2@${E}" # x\tend`);
  });

  it("pins a reference at the very end of a file without a final newline", () => {
    expect(applyDigestInsertions("FROM a:1", [{ offset: 5, reference: "a:1", digest: D }])).toBe(`FROM a:1@${D}`);
  });

  it.each([
    ["the reference changed", "FROM a:2\n"],
    ["the reference grew a tag character", "FROM a:10\n"],
    ["someone pinned it since", `FROM a:1@${E}\n`],
    ["the file got shorter", "FROM"],
  ])("refuses, changing nothing, when %s", (_label, text) => {
    expect(() => applyDigestInsertions(text, [{ offset: 5, reference: "a:1", digest: D }])).toThrow(StaleEditError);
  });

  it("refuses what is not a digest and overlapping insertions", () => {
    expect(() => applyDigestInsertions("FROM a:1", [{ offset: 5, reference: "a:1", digest: "sha256:x" as Digest }])).toThrow(/not a sha256 digest/);
    expect(() =>
      applyDigestInsertions("FROM a:1", [
        { offset: 5, reference: "a:1", digest: D },
        { offset: 6, reference: ":1", digest: D },
      ]),
    ).toThrow(/overlap/);
  });
});
