// The pure parts of the conversations: reading a command, pairing moved pins, and the comment's size.
import { describe, expect, it } from "vitest";
import { parseCommand } from "../../src/conversation/command.js";
import { PACKAGE_CHANGES_MARKER, renderPackageChangesComment } from "../../src/conversation/comment-text.js";
import { findDigestMoves } from "../../src/conversation/moves.js";
import type { ImageDiff } from "../../src/diff/types.js";
import { createIgnoreMatcher } from "../../src/policy/ignore.js";
import type { Digest } from "../../src/reference/types.js";

const digest = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const [A, B, C, D] = [digest("a"), digest("b"), digest("c"), digest("d")];

describe("parseCommand", () => {
  it("reads only the first line, in any case of the command word, and nothing that merely starts alike", () => {
    expect(parseCommand("/digesta refresh")).toEqual({ kind: "refresh" });
    expect(parseCommand("  /DIGESTA   Refresh  \r\nthanks")).toEqual({ kind: "refresh" });
    expect(parseCommand("/digesta")).toEqual({ kind: "help" });
    expect(parseCommand("/Digesta HELP")).toEqual({ kind: "help" });
    expect(parseCommand("please\n/digesta refresh")).toBeUndefined();
    expect(parseCommand("/digestabot refresh")).toBeUndefined();
    expect(parseCommand("see /digesta refresh")).toBeUndefined();
  });

  it("reads both forms of diff, keeping references as written and normalised", () => {
    expect(parseCommand(`/digesta diff nginx:1.25@${A}`)).toEqual({
      kind: "diff",
      from: { registry: "docker.io", repository: "library/nginx", tag: "1.25", digest: A },
    });
    expect(parseCommand(`/digesta DIFF cgr.dev/chainguard/static@${A} cgr.dev/chainguard/static:latest@${B}`)).toEqual({
      kind: "diff",
      from: { registry: "cgr.dev", repository: "chainguard/static", digest: A },
      to: B,
    });
  });

  it("says what is wrong with a command written wrong", () => {
    const problem = (text: string) => {
      const command = parseCommand(text);
      return command?.kind === "invalid" ? command.problem : command?.kind;
    };
    expect(problem("/digesta frobnicate")).toBe("unknown command `frobnicate`");
    expect(problem("/digesta refresh now")).toBe("`refresh` takes no arguments");
    expect(problem("/digesta diff")).toMatch(/takes `IMAGE@OLD IMAGE@NEW`/);
    expect(problem("/digesta diff nginx:1.25")).toMatch(/has no digest/);
    expect(problem(`/digesta diff nginx@${A}`)).toMatch(/has no tag to compare with/);
    expect(problem(`/digesta diff nginx@${A} redis@${B}`)).toMatch(/same image/);
    expect(problem(`/digesta diff Bad!Name@${A}`)).toMatch(/is not an image reference/);
    expect(problem(`/digesta diff ${"x".repeat(2_000)}`)).toBe("the command line is too long");
  });
});

describe("findDigestMoves", () => {
  const file = (path: string, base: string, head: string) => ({ path, base, head });

  it("pairs a disappearing digest with the appearing one of the same image, even when the tag changes", () => {
    const moves = findDigestMoves([
      file("Dockerfile", `FROM nginx:1.25@${A}\nFROM redis:7@${C}\n`, `FROM nginx:1.26@${B}\nFROM redis:7@${C}\n`),
    ]);
    expect(moves).toEqual([
      { image: { registry: "docker.io", repository: "library/nginx" }, fromTag: "1.25", toTag: "1.26", from: A, to: B, places: ["Dockerfile:1"] },
    ]);
  });

  it("makes one move of the same change in several files, pairs by tag first, and ignores new and removed pins", () => {
    const moves = findDigestMoves([
      file("a.yaml", `x: app:web@${A}\ny: app:worker@${C}\n`, `y: app:worker@${D}\nx: app:web@${B}\n`),
      file("b.yaml", `x: app:web@${A}\n`, `x: app:web@${B}\n`),
      file("c.yaml", `z: other:1@${A}\n`, `new: fresh:1@${B}\n`),
    ]);
    expect(moves.map((m) => [m.fromTag, m.from, m.to, m.places])).toEqual([
      ["worker", C, D, ["a.yaml:1"]],
      ["web", A, B, ["a.yaml:2", "b.yaml:1"]],
    ]);
  });

  it("leaves ignored images out", () => {
    const files = [file("Dockerfile", `FROM nginx:1@${A}\nFROM redis:7@${C}\n`, `FROM nginx:1@${B}\nFROM redis:7@${D}\n`)];
    const moves = findDigestMoves(files, { skip: createIgnoreMatcher(["docker.io/library/redis"]) });
    expect(moves.map((m) => m.image.repository)).toEqual(["library/nginx"]);
  });
});

describe("renderPackageChangesComment", () => {
  const hugeDiff = (i: number): ImageDiff => ({
    image: `registry.example/team/image-${i}`,
    tag: "1",
    from: A,
    to: B,
    packages: {
      added: Array.from({ length: 400 }, (_, n) => ({ name: `added-package-${n}`, version: "1.0.0-r0", reference: `pkg:apk/x/added-${n}`, type: "apk" })),
      removed: [],
      changed: Array.from({ length: 400 }, (_, n) => ({
        name: `changed-package-${n}`,
        type: "apk",
        previous: { version: "1.0.0-r0", reference: "p" },
        current: { version: "2.0.0-r0", reference: "c" },
        classification: "upgrade" as const,
        major: true,
      })),
    },
    warnings: [],
    source: { previous: "apk", current: "apk" },
  });

  it("stays under GitHub's limit however much changed, and starts with its marker", () => {
    const body = renderPackageChangesComment({ headSha: "0123456789abcdef", diffs: Array.from({ length: 20 }, (_, i) => hugeDiff(i)), notDiffed: ["x/y:1"], notes: ["n".repeat(5_000)] });
    expect(body.startsWith(`${PACKAGE_CHANGES_MARKER}\n`)).toBe(true);
    expect(body.length).toBeLessThanOrEqual(65_000);
    expect(body).toContain("registry.example/team/image-0");
    expect(body).toContain("x/y:1");
  });

  it("lists the moves without packages when the diff is turned off, and says when nothing moves any more", () => {
    const off = renderPackageChangesComment({ headSha: "0123456789", diffs: [hugeDiff(1)], diffOff: "The package diff is turned off." });
    expect(off).toContain("The package diff is turned off.");
    expect(off).toContain("<code>registry.example/team/image-1:1</code>");
    expect(off).not.toContain("changed-package");
    const none = renderPackageChangesComment({ headSha: "0123456789", diffs: [] });
    expect(none).toContain("no longer moves any image digest (as of <code>0123456</code>)");
  });
});
