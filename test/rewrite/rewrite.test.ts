import { describe, expect, it } from "vitest";
import type { DigestEdit } from "../../src/plan/types.js";
import type { Digest } from "../../src/reference/types.js";
import { applyDigestEdits, StaleEditError } from "../../src/rewrite/rewrite.js";
import { scanText } from "../../src/scan/scanner.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}` as Digest;
const E = `sha256:${"fedcba9876543210".repeat(4)}` as Digest;
const F = `sha256:${"a".repeat(64)}` as Digest;

/** Edits moving every pin in `text` whose digest is `from` to `to`, found the way the tool finds them. */
function editsFor(text: string, from: Digest, to: Digest): DigestEdit[] {
  return scanText("f", text)
    .pinned.filter((p) => p.reference.digest === from)
    .map((p) => ({ digestOffset: p.digestOffset, from, to }));
}

describe("applyDigestEdits", () => {
  it("changes only the digest characters, keeping CRLF, tabs, quotes and a missing final newline", () => {
    const text = `a:\r\n\t- "nginx:1@${D}"\r\n\t- 'x:2@${E}'\r\n  image: nginx:1@${D}`;
    const updated = applyDigestEdits(text, editsFor(text, D, F));
    expect(updated).toBe(`a:\r\n\t- "nginx:1@${F}"\r\n\t- 'x:2@${E}'\r\n  image: nginx:1@${F}`);
  });

  it("keeps every non-ASCII byte when the file is read and written as latin1", () => {
    const original = Buffer.concat([Buffer.from(`é “q” \u00a0 image: a:1@${D}\n`, "utf8"), Buffer.from([0xff, 0xfe, 0x80])]);
    const text = original.toString("latin1");
    const updated = Buffer.from(applyDigestEdits(text, editsFor(text, D, E)), "latin1");
    expect(updated.length).toBe(original.length);
    const at = original.indexOf(D);
    expect(updated.subarray(0, at)).toEqual(original.subarray(0, at));
    expect(updated.subarray(at, at + 71).toString("latin1")).toBe(E);
    expect(updated.subarray(at + 71)).toEqual(original.subarray(at + 71));
  });

  it("accepts edits in any order", () => {
    const text = `a:1@${D} b:1@${E}`;
    const edits: DigestEdit[] = [
      { digestOffset: text.indexOf(E), from: E, to: F },
      { digestOffset: text.indexOf(D), from: D, to: F },
    ];
    expect(applyDigestEdits(text, edits)).toBe(`a:1@${F} b:1@${F}`);
  });

  it("returns the text unchanged when there is nothing to do", () => {
    expect(applyDigestEdits(`a:1@${D}`, [])).toBe(`a:1@${D}`);
  });

  it("refuses, changing nothing, when the text at an offset is no longer the expected digest", () => {
    const text = `a:1@${D}`;
    const edits: DigestEdit[] = [{ digestOffset: text.indexOf(D), from: E, to: F }];
    expect(() => applyDigestEdits(text, edits)).toThrow(StaleEditError);
    expect(() => applyDigestEdits(text, edits)).toThrow(/changed since it was scanned/);
    expect(() => applyDigestEdits(`x${text}`, editsFor(text, D, F))).toThrow(StaleEditError);
  });

  it("refuses an offset beyond the end of the text", () => {
    expect(() => applyDigestEdits("short", [{ digestOffset: 2, from: D, to: E }])).toThrow(/shorter than when it was scanned/);
    expect(() => applyDigestEdits(`a:1@${D}`, [{ digestOffset: -1, from: D, to: E }])).toThrow(StaleEditError);
  });

  it("refuses to write something that is not a digest", () => {
    const text = `a:1@${D}`;
    const bad = [{ digestOffset: 4, from: D, to: "sha256:xyz\nrm -rf /" as Digest }];
    expect(() => applyDigestEdits(text, bad)).toThrow(/not a sha256 digest/);
    try {
      applyDigestEdits(text, bad);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("refuses overlapping edits", () => {
    const text = `a:1@${D}`;
    const edits: DigestEdit[] = [
      { digestOffset: 4, from: D, to: E },
      { digestOffset: 4, from: D, to: F },
    ];
    expect(() => applyDigestEdits(text, edits)).toThrow(/overlap/);
  });
});
