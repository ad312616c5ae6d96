import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeMarkdown, renderImageDiffs, renderImageDiffText } from "../../src/diff/markdown.js";
import type { Digest } from "../../src/reference/types.js";
import type { AddedPackage, ImageDiff, PackageChange } from "../../src/diff/types.js";

const digest = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const pkg = (name: string, version: string, type = "apk"): AddedPackage => ({ name, version, type, reference: `pkg:${type}/wolfi/${name}@${version}` });
const change = (name: string, from: string, to: string, classification: PackageChange["classification"], major = false, type = "apk"): PackageChange => ({
  name,
  type,
  previous: { version: from, reference: `pkg:${type}/wolfi/${name}@${from}` },
  current: { version: to, reference: `pkg:${type}/wolfi/${name}@${to}` },
  classification,
  major,
});
const image = (over: Partial<ImageDiff> = {}): ImageDiff => ({
  image: "cgr.dev/chainguard/static",
  tag: "latest",
  from: digest("a"),
  to: digest("b"),
  platform: { os: "linux", architecture: "arm64", variant: "v8" },
  source: { previous: "sbom-spdx", current: "sbom-spdx" },
  packages: {
    added: [pkg("new-lib", "2.0-r0")],
    removed: [pkg("old-lib", "1.0-r0")],
    changed: [
      change("busybox", "1.36.1-r2", "1.36.1-r3", "rebuild"),
      change("curl", "8.5.0-r0", "8.6.0-r0", "upgrade"),
      change("musl", "1.2.4-r3", "1.2.4-r2", "downgrade"),
      change("openssl", "1.1.1w-r0", "3.0.0-r0", "upgrade", true),
    ],
  },
  warnings: [],
  ...over,
});

/** Table rows of the rendered text, split into cells on the pipes Markdown would see. */
const tableRows = (md: string) => md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("|---"));

describe("renderImageDiffs", () => {
  it("renders one open section for a single image: summary line, callouts, then tables", () => {
    const md = renderImageDiffs([image()], { heading: "### Package changes" });
    expect(md.startsWith("### Package changes\n\n<details open>\n<summary>")).toBe(true);
    const summary = /<summary>(.*)<\/summary>/.exec(md)?.[1];
    expect(summary).toBe(
      "<b>cgr.dev/chainguard/static</b>:latest <code>aaaaaaaaaaaa</code> → <code>bbbbbbbbbbbb</code> · +1 −1 ~4 · linux/arm64/v8 · SBOM (SPDX)",
    );
    expect(md).toContain("**Needs a look:** 1 major update, 1 downgrade");
    expect(md.indexOf("- Downgrade: musl 1.2.4-r3 → 1.2.4-r2")).toBeLessThan(md.indexOf("- Major: openssl 1.1.1w-r0 → 3.0.0-r0"));
    expect(md.indexOf("- Major:")).toBeLessThan(md.indexOf("| Changed |"));
    expect(md.indexOf("| Changed |")).toBeLessThan(md.indexOf("| Added |"));
    expect(md.indexOf("| Added |")).toBeLessThan(md.indexOf("| Removed |"));
    expect(md.trimEnd().endsWith("</details>")).toBe(true);
  });

  it("orders changed rows downgrades, major upgrades, upgrades, rebuilds", () => {
    const rows = tableRows(renderImageDiffs([image()])).filter((r) => r.includes(" → ") === false && /\| (busybox|curl|musl|openssl) /.test(r));
    expect(rows).toEqual([
      "| musl | 1.2.4-r3 | 1.2.4-r2 | **downgrade** |",
      "| openssl | 1.1.1w-r0 | 3.0.0-r0 | **major upgrade** |",
      "| curl | 8.5.0-r0 | 8.6.0-r0 | upgrade |",
      "| busybox | 1.36.1-r2 | 1.36.1-r3 | rebuild |",
    ]);
  });

  it("uses collapsed sections when there are several images, and one line for images without changes", () => {
    const md = renderImageDiffs([
      image(),
      image({ image: "docker.io/library/nginx", tag: undefined, unchanged: "same-layers", packages: { added: [], removed: [], changed: [] }, platform: undefined }),
      image({ image: "docker.io/library/redis", unchanged: "same-digest", packages: { added: [], removed: [], changed: [] }, from: digest("c"), to: digest("c") }),
      image({ image: "ghcr.io/x/quiet", packages: { added: [], removed: [], changed: [] } }),
      image({
        image: "ghcr.io/x/unknown",
        packages: { added: [], removed: [], changed: [] },
        source: { previous: "none", current: "apk" },
        warnings: ["could not read the old image aaaaaaaaaaaa on ghcr.io: 401"],
      }),
    ]);
    expect(md.match(/<details>/g)).toHaveLength(1);
    expect(md).not.toContain("<details open>");
    expect(md).toContain("<b>docker.io/library/nginx</b> <code>aaaaaaaaaaaa</code> → <code>bbbbbbbbbbbb</code> · same layers, nothing inside changed\n");
    expect(md).toContain("<b>docker.io/library/redis</b>:latest <code>cccccccccccc</code> → <code>cccccccccccc</code> · same image, nothing changed");
    expect(md).toContain("<b>ghcr.io/x/quiet</b>:latest <code>aaaaaaaaaaaa</code> → <code>bbbbbbbbbbbb</code> · no package changes · linux/arm64/v8\n");
    expect(md).toContain("· package changes unknown · linux/arm64/v8\n\n- ⚠️ could not read the old image aaaaaaaaaaaa on ghcr.io: 401");
  });

  it("shows the package type when an image mixes types", () => {
    const md = renderImageDiffs([image({ packages: { added: [pkg("lodash", "4.17.21", "npm"), pkg("zlib", "1.3-r0")], removed: [], changed: [] } })]);
    expect(md).toContain("| lodash (npm) | 4.17.21 |");
    expect(md).toContain("| zlib (apk) | 1.3-r0 |");
  });

  it("escapes hostile names, versions and warnings so they cannot break out of the table or the section", () => {
    const hostile = [
      "</details><script>alert(1)</script>",
      "a|b|c",
      "line\nbreak| x |",
      "`code` *bold* _em_ [link](http://x) ![img](y) ~~strike~~ $math$",
      "@octocat",
      "fixes #123",
      "\u202eevil\u202c\u0007\u001b[31m",
      "<!-- comment",
      "&amp; \\|",
    ];
    const md = renderImageDiffs([
      image({
        image: "cgr.dev/</summary></details><img src=x>",
        tag: "<b>",
        packages: {
          added: hostile.map((n) => pkg(n, n)),
          removed: [],
          changed: hostile.map((n) => change(n, n, `${n}2`, "upgrade", true)),
        },
        warnings: hostile,
      }),
    ]);
    expect(md).not.toMatch(/<(script|img|!--)/);
    expect(md.match(/<details/g)).toHaveLength(1);
    expect(md.match(/<\/details>/g)).toHaveLength(1);
    expect(md.match(/<\/summary>/g)).toHaveLength(1);
    expect(md).not.toMatch(/@octocat/);
    expect(md).not.toMatch(/#123/);
    expect(md).not.toMatch(/[\u202e\u0007\u001b]/);
    expect(md).not.toMatch(/`code`|\*bold\*|_em_|\[link\]|~~strike~~|\$math\$/);
    for (const row of tableRows(md)) {
      // Unescaped pipes only as cell borders: "| a | b |" has 3, "| a | b | c | d |" has 5.
      const pipes = row.match(/\|/g)?.length;
      expect([3, 5], row).toContain(pipes);
      expect(row).not.toContain("\n");
    }
  });

  it("bounds very long names", () => {
    const md = renderImageDiffs([image({ packages: { added: [pkg("x".repeat(100_000), "1")], removed: [], changed: [] } })]);
    expect(md.length).toBeLessThan(2_000);
    expect(md).toContain("…");
  });

  it("stays within the budget on 10,000 packages, shrinking tables to their first rows", () => {
    const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);
    const diff = image({
      packages: {
        added: many(10_000, "add").map((n) => pkg(n, "1.0-r0")),
        removed: many(10_000, "rm").map((n) => pkg(n, "1.0-r0")),
        changed: many(10_000, "ch").map((n, i) => change(n, "1.0-r0", i % 100 === 0 ? "2.0-r0" : "1.0-r1", i % 100 === 0 ? "upgrade" : "rebuild", i % 100 === 0)),
      },
    });
    const md = renderImageDiffs([diff]);
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(md).toMatch(/_…and \d+ more changed packages\._/);
    expect(md).toMatch(/_…and \d+ more added packages\._/);
    expect(md).toContain("**Needs a look:** 100 major updates");
    // The majors come first in the shrunk changed table.
    const firstChanged = tableRows(md.slice(md.indexOf("| Changed |")))[1];
    expect(firstChanged).toContain("**major upgrade**");

    const small = renderImageDiffs([diff], { budget: 5_000 });
    expect(small.length).toBeLessThanOrEqual(5_000);
    expect(small).toContain("+10000 −10000 ~10000");
  });

  it("falls back to counts per image, then to as many images as fit", () => {
    const diffs = Array.from({ length: 300 }, (_, i) => image({ image: `registry.example/team/image-${i}` }));
    const md = renderImageDiffs(diffs, { budget: 60_000 });
    expect(md.length).toBeLessThanOrEqual(60_000);
    const compact = renderImageDiffs(diffs, { budget: 20_000 });
    expect(compact.length).toBeLessThanOrEqual(20_000);
    expect(compact).toContain("the tables are too long for this comment");
    expect(compact).toMatch(/- …and \d+ more images\n$/);
    expect(compact).toContain("(1 major update, 1 downgrade)");
    expect(renderImageDiffs(diffs, { budget: 30 }).length).toBeLessThanOrEqual(30);
  });

  it("never exceeds the budget, whatever the input (property)", () => {
    const text = fc.string({ maxLength: 30 });
    const arbPkg = fc.record({ name: text, version: text, type: fc.constantFrom("apk", "npm"), reference: text });
    const arbChange = fc.record({
      name: text,
      type: fc.constantFrom("apk", "deb"),
      previous: fc.record({ version: text, reference: text }),
      current: fc.record({ version: text, reference: text }),
      classification: fc.constantFrom("upgrade", "downgrade", "rebuild"),
      major: fc.boolean(),
    }) as fc.Arbitrary<PackageChange>;
    const arbDiff = fc.record({
      image: text,
      from: fc.constant(digest("a")),
      to: fc.constant(digest("b")),
      packages: fc.record({ added: fc.array(arbPkg, { maxLength: 40 }), removed: fc.array(arbPkg, { maxLength: 40 }), changed: fc.array(arbChange, { maxLength: 40 }) }),
      warnings: fc.array(text, { maxLength: 3 }),
    }) as fc.Arbitrary<ImageDiff>;
    fc.assert(
      fc.property(fc.array(arbDiff, { maxLength: 8 }), fc.integer({ min: 0, max: 8_000 }), (diffs, budget) => {
        expect(renderImageDiffs(diffs, { budget }).length).toBeLessThanOrEqual(budget);
      }),
      { numRuns: 200 },
    );
  });
});

describe("escapeMarkdown", () => {
  it("turns Markdown and HTML syntax into character references", () => {
    expect(escapeMarkdown("a|b<c>&d")).toBe("a&#124;b&lt;c&gt;&amp;d");
    expect(escapeMarkdown("@user #1 #x")).toBe("@&#8203;user #&#8203;1 #x");
    expect(escapeMarkdown("1.0~rc1+b2:3")).toBe("1.0&#126;rc1+b2:3");
  });
});

describe("renderImageDiffText", () => {
  it("prints aligned columns, majors and downgrades first", () => {
    const text = renderImageDiffText(image());
    const lines = text.split("\n");
    expect(lines[0]).toBe("cgr.dev/chainguard/static:latest  aaaaaaaaaaaa -> bbbbbbbbbbbb  linux/arm64/v8");
    expect(lines[1]).toBe("  1 added, 1 removed, 4 changed (1 major update, 1 downgrade)  [sbom-spdx]");
    const changed = lines.slice(lines.indexOf("  changed:") + 1, lines.indexOf("  added:"));
    expect(changed.map((l) => l.trim().split(/\s+/)[0])).toEqual(["musl", "openssl", "curl", "busybox"]);
    const arrows = new Set(changed.map((l) => l.indexOf("->")));
    expect(arrows.size).toBe(1);
    expect(changed[1]).toMatch(/upgrade \(major\)$/);
    expect(text).toContain("  added:\n    new-lib  2.0-r0\n");
  });

  it("says so in one line when nothing changed, lists warnings, and strips terminal control characters", () => {
    const text = renderImageDiffText(
      image({ unchanged: "same-layers", packages: { added: [], removed: [], changed: [] }, warnings: ["\u001b[2Jcleared?"] }),
    );
    expect(text).toBe(
      "cgr.dev/chainguard/static:latest  aaaaaaaaaaaa -> bbbbbbbbbbbb  linux/arm64/v8\n  same layers, nothing inside changed\n  warning: \ufffd[2Jcleared?\n",
    );
  });
});
