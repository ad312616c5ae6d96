import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { scanBytes, scanText, DIGEST_ONLY_REASON, IGNORE_COMMENT_REASON, VERSION_REASON } from "../../src/scan/scanner.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}`;
const E = `sha256:${"fedcba9876543210".repeat(4)}`;

/** The references found in `text`, as written, pinned ones first. */
function found(text: string): string[] {
  const { pinned } = scanText("f", text);
  return pinned.map((p) => p.text);
}

describe("scanText finds pins in any syntax", () => {
  it.each([
    ["YAML unquoted", `image: nginx:1.25@${D}\n`, [`nginx:1.25@${D}`]],
    ["YAML double-quoted", `image: "nginx:1.25@${D}"`, [`nginx:1.25@${D}`]],
    ["YAML single-quoted", `image: 'nginx:1.25@${D}'`, [`nginx:1.25@${D}`]],
    ["YAML list item", `images:\n  - cgr.dev/chainguard/static:latest@${D}\n`, [`cgr.dev/chainguard/static:latest@${D}`]],
    ["YAML flow sequence", `images: [a:1@${D}, b:2@${E}]`, [`a:1@${D}`, `b:2@${E}`]],
    ["YAML flow mapping", `{image: a:1@${D}}`, [`a:1@${D}`]],
    ["YAML flow mapping, no spaces", `{image: "a:1@${D}",x: 1}`, [`a:1@${D}`]],
    ["Dockerfile FROM with platform and stage", `FROM --platform=$BUILDPLATFORM golang:1.22@${D} AS build`, [`golang:1.22@${D}`]],
    ["Dockerfile COPY --from", `COPY --from=ghcr.io/a/b:v1@${D} /a /b`, [`ghcr.io/a/b:v1@${D}`]],
    ["Dockerfile ARG", `ARG BASE=alpine:3.20@${D}`, [`alpine:3.20@${D}`]],
    ["Dockerfile syntax directive", `# syntax=docker/dockerfile:1@${D}\nFROM x`, [`docker/dockerfile:1@${D}`]],
    ["shell default", `docker run "\${IMAGE:-nginx:1@${D}}"`, [`nginx:1@${D}`]],
    ["shell default without colon", `\${IMAGE-nginx:1@${D}}`, [`nginx:1@${D}`]],
    ["shell assign default", `\${IMAGE:=nginx:1@${D}}`, [`nginx:1@${D}`]],
    ["shell alternative value", `\${IMAGE:+nginx:1@${D}}`, [`nginx:1@${D}`]],
    ["shell error value", `\${IMAGE?nginx:1@${D}}`, [`nginx:1@${D}`]],
    ["shell option", `kubectl run x --image=nginx:1@${D} --restart=Never`, [`nginx:1@${D}`]],
    ["two on one shell line", `docker pull a:1@${D} && docker pull b:2@${E}`, [`a:1@${D}`, `b:2@${E}`]],
    ["Makefile", `IMG ?= registry.example.com/team/app:2.0@${D}`, [`registry.example.com/team/app:2.0@${D}`]],
    ["Terraform", `  image = "ghcr.io/org/app:v1.2.3@${D}"`, [`ghcr.io/org/app:v1.2.3@${D}`]],
    ["Markdown backticks", "Use `nginx:1@" + D + "` here", [`nginx:1@${D}`]],
    ["Markdown bold", `**nginx:1@${D}**`, [`nginx:1@${D}`]],
    ["Markdown link target", `[x](nginx:1@${D})`, [`nginx:1@${D}`]],
    ["JSON", `{"image":"nginx:1@${D}","x":["b:2@${E}"]}`, [`nginx:1@${D}`, `b:2@${E}`]],
    ["GitHub workflow docker://", `    uses: docker://alpine:3.20@${D}`, [`alpine:3.20@${D}`]],
    ["HTML", `<code>nginx:1@${D}</code>`, [`nginx:1@${D}`]],
    ["curly quotes (UTF-8 as latin1)", Buffer.from(`“nginx:1@${D}”`).toString("latin1"), [`nginx:1@${D}`]],
    ["IPv6 registry with port", `image: [::1]:5000/a/b:t@${D}`, [`[::1]:5000/a/b:t@${D}`]],
    ["IPv6 registry in a flow sequence", `[[::1]:5000/a/b:t@${D}]`, [`[::1]:5000/a/b:t@${D}`]],
    ["registry with port", `localhost:5000/foo:bar@${D}`, [`localhost:5000/foo:bar@${D}`]],
    ["__ and - separators", `a__b/c--d/e.f_g:t@${D}`, [`a__b/c--d/e.f_g:t@${D}`]],
    ["uppercase tag", `nginx:V1.2-RC_1@${D}`, [`nginx:V1.2-RC_1@${D}`]],
    ["128-character tag", `a:${"t".repeat(128)}@${D}`, [`a:${"t".repeat(128)}@${D}`]],
    ["at the very start and end of the text", `a:1@${D}`, [`a:1@${D}`]],
    ["followed by sentence punctuation", `Pinned to a:1@${D}.`, [`a:1@${D}`]],
    ["followed by a YAML colon", `a:1@${D}: value`, [`a:1@${D}`]],
    ["CRLF line endings", `a: 1\r\nimage: a:1@${D}\r\n`, [`a:1@${D}`]],
    ["tab before", `\ta:1@${D}`, [`a:1@${D}`]],
  ])("%s", (_label, text, expected) => {
    expect(found(text)).toEqual(expected);
  });
});

describe("scanText rejects what is not a reference, without clipping it", () => {
  it.each([
    ["uppercase path (never clipped to a lowercase tail)", `Cgr.dev/Chainguard/Static:latest@${D}`],
    ["uppercase repository after a boundary", `image: Nginx:1@${D}`],
    ["truncated digest (63 hex)", `a:1@${D.slice(0, -1)}`],
    ["truncated digest followed by text", `a:1@${D.slice(0, -1)} b`],
    ["longer digest (65 hex)", `a:1@${D}0`],
    ["digest followed by a letter", `a:1@${D}g`],
    ["digest followed by -", `a:1@${D}-x`],
    ["digest followed by _", `a:1@${D}_x`],
    ["digest followed by /", `a:1@${D}/x`],
    ["uppercase digest", `a:1@sha256:${"0123456789ABCDEF".repeat(4)}`],
    ["uppercase algorithm", `a:1@SHA256:${"0".repeat(64)}`],
    ["129-character tag", `a:${"t".repeat(129)}@${D}`],
    ["URL path", `see https://example.com/x:y@${D} for details`],
    ["URL without scheme after a path", `example.com/path/../x:y@${D}`],
    ["variable registry prefix", `\${REGISTRY}/app:1@${D}`],
    ["variable glued to the name", `\${REGISTRY}app:1@${D}`],
    ["make variable prefix", `$(REGISTRY)/app:1@${D}`],
    ["shell variable glued to the name", `$REGISTRYapp:1@${D}`],
    ["after @", `user@a:1@${D}`],
    ["after %", `%a:1@${D}`],
    ["after a backslash", `\\a:1@${D}`],
    ["after ]", `x]a:1@${D}`],
    ["parameter expansion without an operator", `\${a:1@${D}}`],
    ["nothing before the digest", `@${D}`],
    ["only a tag before the digest", `:1@${D}`],
    ["a key glued to the value", `image:nginx:1@${D}`],
    ["relative path", `./dir/app:1@${D}`],
    ["leading dash", `-app:1@${D}`],
    ["doubled slash", `a//b:1@${D}`],
    ["docker:// after a non-boundary", `xdocker://a:1@${D}`],
    ["a digest after a digest", `a:1@${D}@${E}`],
  ])("%s", (_label, text) => {
    const scan = scanText("f", text);
    expect(scan.pinned).toEqual([]);
    expect(scan.skipped).toEqual([]);
  });
});

describe("scanText details", () => {
  it("skips digest-only references instead of following latest", () => {
    const scan = scanText("k8s.yaml", `a: alpine@${D}\nb: localhost:5000/foo@${E}\n`);
    expect(scan.pinned).toEqual([]);
    expect(scan.skipped.map((s) => [s.text, s.reason, s.reference?.tag])).toEqual([
      [`alpine@${D}`, DIGEST_ONLY_REASON, undefined],
      [`localhost:5000/foo@${E}`, DIGEST_ONLY_REASON, undefined],
    ]);
  });

  it("reports path, 1-based line and column, byte offsets and the normalised reference", () => {
    const text = `# header\r\nservices:\r\n  web:\r\n    image: "nginx:1.25@${D}" # and x:2@${E}\r\n`;
    const { pinned } = scanText("compose.yaml", text);
    expect(pinned).toHaveLength(2);
    const [first, second] = pinned;
    expect(first).toMatchObject({
      path: "compose.yaml",
      line: 4,
      column: 13,
      text: `nginx:1.25@${D}`,
      reference: { registry: "docker.io", repository: "library/nginx", tag: "1.25", digest: D },
    });
    expect(text.slice(first!.offset, first!.offset + first!.text.length)).toBe(first!.text);
    expect(text.slice(first!.digestOffset, first!.digestOffset + 71)).toBe(D);
    expect(second).toMatchObject({ line: 4, text: `x:2@${E}` });
    expect(text.slice(second!.digestOffset, second!.digestOffset + 71)).toBe(E);
  });

  it("keeps byte offsets for non-ASCII text decoded as latin1", () => {
    const bytes = Buffer.from(`é: ü\nimage: a:1@${D}`, "utf8");
    const { pinned } = scanText("f", bytes.toString("latin1"));
    expect(pinned[0]!.offset).toBe(bytes.indexOf("a:1@"));
    expect(pinned[0]!.column).toBe(8);
  });

  it("offsets of docker:// references point past the scheme", () => {
    const text = `uses: docker://a:1@${D}`;
    const [pin] = scanText("f", text).pinned;
    expect(pin!.offset).toBe(text.indexOf("a:1"));
    expect(pin!.column).toBe(text.indexOf("a:1") + 1);
  });

  it("counts lines across many hits", () => {
    const lines = Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? `x${i}: app${i}:v${i}@${D}` : `# ${i}`));
    const { pinned } = scanText("f", lines.join("\n"));
    expect(pinned.map((p) => [p.line, p.column, p.reference.tag])).toEqual(
      lines.flatMap((_, i) => (i % 3 === 0 ? [[i + 1, `x${i}: `.length + 1, `v${i}`]] : [])),
    );
  });

  it("holds up on arbitrary text: every hit is exactly where it says", () => {
    const piece = fc.constantFrom("a", "A", ":", "/", "@", ".", "-", "_", " ", "\n", "${", "}", "[", "]", "docker://", "sha256:", "@sha256:", D.slice(7), "0", "x:1@" + D);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const text = pieces.join("");
        const { pinned, skipped } = scanText("f", text);
        for (const hit of [...pinned, ...skipped]) {
          expect(text.slice(hit.offset, hit.offset + hit.text.length)).toBe(hit.text);
          const before = text.slice(0, hit.offset).split("\n");
          expect(hit.line).toBe(before.length);
          expect(hit.column).toBe(before.at(-1)!.length + 1);
        }
        for (const pin of pinned) expect(text.slice(pin.digestOffset, pin.digestOffset + 71)).toBe(pin.reference.digest);
      }),
    );
  });

  it("finds in a file's bytes exactly what it finds in their latin1 text, whatever comes before a mark", () => {
    // The byte scan looks for `@` first and goes over to the whole mark after many false starts; text beyond
    // latin1 is matched as if each such character were one boundary byte.
    const piece = fc.constantFrom("@", "@".repeat(20), "a", ":", "/", " ", "\n", "\r\n", "${X:-", "}", "# digesta:ignore", "\u00e9", "\u2028", "\u3000", "sha256:", "@sha256:", D.slice(7), "x:1@" + D, "v1@" + D, "[::1]:5/a:b@" + E);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const text = pieces.join("");
        const bytes = Buffer.from(text, "utf8");
        expect(scanBytes("f", bytes)).toEqual(scanText("f", bytes.toString("latin1")));
        const latin1 = text.replace(/[^\x00-\xff]/g, "\u0080");
        const expected = scanText("f", latin1);
        const got = scanText("f", text);
        expect(got.pinned.map((p) => [p.offset, p.line, p.column, p.text])).toEqual(expected.pinned.map((p) => [p.offset, p.line, p.column, p.text]));
      }),
      { numRuns: 500 },
    );
  });

  it("finds nothing in text without a digest, and handles empty text", () => {
    expect(scanText("f", "")).toEqual({ pinned: [], skipped: [] });
    expect(scanText("f", "image: nginx:1.25\nsha256:abc")).toEqual({ pinned: [], skipped: [] });
  });

  it("stays linear on hostile runs of reference characters", () => {
    const hostile = `${"a".repeat(100_000)}@${D}`.repeat(20);
    expect(scanText("f", hostile).pinned).toEqual([]);
  });
});

describe("a digesta:ignore comment leaves the pins of its line alone", () => {
  const ignored = (text: string) => {
    const scan = scanText("f", text);
    return {
      pinned: scan.pinned.map((p) => p.text),
      ignored: scan.skipped.filter((s) => s.reason === IGNORE_COMMENT_REASON).map((s) => s.text),
    };
  };

  it.each([
    ["YAML / shell / Dockerfile", `image: nginx:1@${D} # digesta:ignore\n`],
    ["no space", `image: nginx:1@${D} #digesta:ignore`],
    ["before the pin", `# digesta:ignore\u0020\nx`.replace("\nx", ` nginx:1@${D}`)],
    ["C-style line", `const image = "nginx:1@${D}"; // digesta:ignore: tested on this build only`],
    ["SQL / Lua / Haskell", `-- digesta:ignore\u0020nginx:1@${D}`],
    ["block comment", `image = "nginx:1@${D}" /* digesta:ignore */`],
    ["Helm template", `image: nginx:1@${D} {{- /* digesta:ignore */ -}}`],
    ["HTML / Markdown", `<code>nginx:1@${D}</code> <!-- digesta:ignore -->`],
    ["INI", `image=nginx:1@${D} ; digesta:ignore`],
  ])("%s", (_, text) => {
    expect(ignored(text)).toEqual({ pinned: [], ignored: [`nginx:1@${D}`] });
  });

  it("only on its own line, and only as a whole word after a comment opener", () => {
    const text = [
      `a: nginx:1@${D} # digesta:ignore`,
      `b: nginx:2@${D}`,
      `c: nginx:3@${D} # digesta:ignored is another word`,
      `d: nginx:4@${D} # digesta:ignore-next-line is not this marker`,
      `e: "nginx:5@${D}" digesta:ignore without a comment`,
      `f: nginx:6@${E}, nginx:7@${D}  # digesta:ignore`,
    ].join("\n");
    expect(ignored(text)).toEqual({
      pinned: [`nginx:2@${D}`, `nginx:3@${D}`, `nginx:4@${D}`, `nginx:5@${D}`],
      ignored: [`nginx:1@${D}`, `nginx:6@${E}`, `nginx:7@${D}`],
    });
  });

  it("keeps line numbers right after a CRLF line with the marker", () => {
    const scan = scanText("f", `a: x:1@${D} # digesta:ignore\r\nb: x:2@${D}\r\n`);
    expect(scan.pinned.map((p) => [p.line, p.text])).toEqual([[2, `x:2@${D}`]]);
    expect(scan.skipped.map((s) => [s.line, s.reason])).toEqual([[1, IGNORE_COMMENT_REASON]]);
  });
});

describe("references that cannot be followed are listed, not lost", () => {
  it("a registry host that is not a host name is skipped with why", () => {
    const scan = scanText("f", `image: fake_repo.azurecr.io/x:1@${D}\nimage2: Bad_Host.example:5000/team/app@${E}\n`);
    expect(scan.pinned).toEqual([]);
    expect(scan.skipped.map((s) => [s.line, s.text, s.reference, s.reason])).toEqual([
      [1, `fake_repo.azurecr.io/x:1@${D}`, undefined, expect.stringMatching(/^invalid registry host "fake_repo\.azurecr\.io"/)],
      [2, `Bad_Host.example:5000/team/app@${E}`, undefined, expect.stringMatching(/^invalid registry host "Bad_Host\.example"/)],
    ]);
  });

  it("links, uppercase paths and bad tags are still not taken for references", () => {
    const text = [`https://example.com/x:y@${D}`, `Cgr.dev/Chainguard/Static:latest@${D}`, `bad_host.io/x:-tag@${D}`].join("\n");
    expect(scanText("f", text)).toEqual({ pinned: [], skipped: [] });
  });

  it("a version with a digest is not called an image", () => {
    const scan = scanText("tools.txt", `kubectl v1.35.1@${D}\nhelm 3.14@${E}\nalpine@${D}\n`);
    expect(scan.skipped.map((s) => [s.text, s.reason])).toEqual([
      [`v1.35.1@${D}`, VERSION_REASON],
      [`3.14@${E}`, VERSION_REASON],
      [`alpine@${D}`, DIGEST_ONLY_REASON],
    ]);
    expect(VERSION_REASON).not.toMatch(/\bimage\b(?! reference)/);
  });
});
