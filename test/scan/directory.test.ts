import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_REFERENCES_PER_FILE, scanDirectory } from "../../src/scan/directory.js";
import { displayPath, joinPathBytes, pathBytes } from "../../src/scan/names.js";
import { applyDigestEdits } from "../../src/rewrite/rewrite.js";
import type { Digest } from "../../src/reference/types.js";
import type { ScanReport } from "../../src/scan/types.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}` as Digest;
const E = `sha256:${"fedcba9876543210".repeat(4)}` as Digest;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) {
    spawnSync("chmod", ["-R", "u+rwx", root]);
    rmSync(root, { recursive: true, force: true });
  }
});

/** A fresh directory holding `files` (path → content). */
function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(tmpdir(), "digesta-scan-"));
  roots.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const absolute = path.join(root, relative);
    mkdirSync(path.dirname(absolute), { recursive: true });
    writeFileSync(absolute, content);
  }
  return root;
}

const where = (report: ScanReport) => report.pinned.map((p) => `${p.path}:${p.line}:${p.column} ${p.reference.repository}`);

describe("scanDirectory", () => {
  it("finds pins in every file, dot directories included, sorted by path then offset", async () => {
    const root = tree({
      "k8s/deploy.yaml": `spec:\n  containers:\n    - image: ghcr.io/acme/api:v1@${D}\n    - image: "b:2@${E}"\n`,
      ".github/workflows/ci.yml": `steps:\n  - uses: docker://alpine:3@${D}\n`,
      Dockerfile: `FROM golang:1.22@${D} AS build\nFROM cgr.dev/chainguard/static:latest@${E}\n`,
      "a/b/c/run.sh": `docker run "\${IMG:-redis:7@${D}}"\n`,
      "notes.md": `Digest only: alpine@${D}\n`,
      "empty.txt": "",
    });
    const report = await scanDirectory(root);
    expect(where(report)).toEqual([
      ".github/workflows/ci.yml:2:20 library/alpine",
      "Dockerfile:1:6 library/golang",
      "Dockerfile:2:6 chainguard/static",
      "a/b/c/run.sh:1:20 library/redis",
      "k8s/deploy.yaml:3:14 acme/api",
      "k8s/deploy.yaml:4:15 library/b",
    ]);
    expect(report.skipped.map((s) => [s.path, s.reason])).toEqual([["notes.md", "no tag to follow (digest-only reference)"]]);
    expect(report.filesScanned).toBe(6);
    expect(report.bytesScanned).toBeGreaterThan(200);
    expect(report.skippedFiles).toEqual([]);
  });

  it("never finds in a file the bytes an earlier, larger file left in the reused read buffer", async () => {
    // Files are read in path order into one kept buffer: b.yaml is a.yaml cut short in the middle of its digest, so
    // the bytes after b.yaml's end are still the rest of a.yaml's digest, and must not complete b.yaml's reference.
    const full = `image: reg.example/first:1@${D}\n`;
    const root = tree({ "a.yaml": full, "b.yaml": full.slice(0, full.indexOf("@") + 12), "c.yaml": "x\n" });
    const report = await scanDirectory(root);
    expect(where(report)).toEqual(["a.yaml:1:8 first"]);
  });

  it("leaves out .git and node_modules at any depth, and applies include and exclude globs", async () => {
    const files = {
      ".git/config": `x: a:1@${D}`,
      "node_modules/x/a.yaml": `x: a:1@${D}`,
      "web/node_modules/y/a.yaml": `x: a:1@${D}`,
      "docs/a.yaml": `x: a:1@${D}`,
      "src/a.yaml": `x: a:1@${D}`,
      "src/b.json": `{"x": "a:1@${D}"}`,
      "c.yaml": `x: a:1@${D}`,
    };
    const paths = async (options?: Parameters<typeof scanDirectory>[1]) =>
      (await scanDirectory(tree(files), options)).pinned.map((p) => p.path);
    expect(await paths()).toEqual(["c.yaml", "docs/a.yaml", "src/a.yaml", "src/b.json"]);
    expect(await paths({ exclude: ["docs/**"] })).toEqual(["c.yaml", "src/a.yaml", "src/b.json"]);
    expect(await paths({ exclude: ["docs"] })).toEqual(["c.yaml", "src/a.yaml", "src/b.json"]);
    expect(await paths({ include: ["**/*.yaml"] })).toEqual(["c.yaml", "docs/a.yaml", "src/a.yaml"]);
    expect(await paths({ include: ["./src/**"], exclude: ["**/*.json"] })).toEqual(["src/a.yaml"]);
  });

  it("reads a pattern without a slash at any depth, as .gitignore does, and one with a slash from the root", async () => {
    const root = tree({
      "a.yaml": `x: a:1@${D}`,
      "deploy/b.yaml": `x: a:1@${D}`,
      "deploy/prod/c.yaml": `x: a:1@${D}`,
      "other/deploy/d.yaml": `x: a:1@${D}`,
      "vendor/e.yaml": `x: a:1@${D}`,
      "lib/vendor/f.yaml": `x: a:1@${D}`,
      "g.yml": `x: a:1@${D}`,
    });
    const paths = async (options: Parameters<typeof scanDirectory>[1]) => (await scanDirectory(root, options)).pinned.map((p) => p.path);
    expect(await paths({ include: ["*.yaml"] })).toEqual([
      "a.yaml",
      "deploy/b.yaml",
      "deploy/prod/c.yaml",
      "lib/vendor/f.yaml",
      "other/deploy/d.yaml",
      "vendor/e.yaml",
    ]);
    expect(await paths({ include: ["deploy/*.yaml"] })).toEqual(["deploy/b.yaml"]);
    expect(await paths({ include: ["/*.yaml"] })).toEqual(["a.yaml"]);
    expect(await paths({ include: ["*.yaml"], exclude: ["vendor/"] })).toEqual(["a.yaml", "deploy/b.yaml", "deploy/prod/c.yaml", "other/deploy/d.yaml"]);
    expect(await paths({ include: ["*.yaml"], exclude: ["/vendor"] })).toEqual(["a.yaml", "deploy/b.yaml", "deploy/prod/c.yaml", "lib/vendor/f.yaml", "other/deploy/d.yaml"]);
  });

  it("names the include patterns that matched no file", async () => {
    const root = tree({ "a.yaml": `x: a:1@${D}`, "b/c.yml": "nothing" });
    const report = await scanDirectory(root, { include: ["*.yaml", "*.yml", "*.yamll", "deploy/**"] });
    expect(report.unmatchedIncludes).toEqual(["*.yamll", "deploy/**"]);
    expect((await scanDirectory(root)).unmatchedIncludes).toEqual([]);
  });

  it("skips binary and oversized files and says why, scanning a file of exactly the limit", async () => {
    const root = tree({
      "image.png": Buffer.concat([Buffer.from([0x89, 0x50, 0x00, 0x01]), Buffer.from(`a:1@${D}`)]),
      "late-nul.txt": `a:1@${D}\n${"x".repeat(9000)}\u0000`,
      "big.yaml": `a:1@${D}\n${"#".repeat(100)}`,
      "limit.yaml": `a:1@${D}\n`.padEnd(100, "#"),
    });
    const report = await scanDirectory(root, { maxFileSize: 100 });
    expect(report.skippedFiles).toEqual([
      { path: "big.yaml", kind: "too-large", reason: expect.stringMatching(/^larger than 100 bytes/) },
      { path: "image.png", kind: "binary", reason: "binary (NUL byte in the first 8 KiB)" },
      { path: "late-nul.txt", kind: "too-large", reason: expect.stringMatching(/^larger than 100 bytes/) },
    ]);
    expect(report.pinned.map((p) => p.path)).toEqual(["limit.yaml"]);
    const roomy = await scanDirectory(root);
    expect(roomy.pinned.map((p) => p.path)).toEqual(["big.yaml", "late-nul.txt", "limit.yaml"]);
  });

  it("skips a file packed with more references than any real file holds", async () => {
    const root = tree({ "packed.txt": `a:1@${D}\n`.repeat(MAX_REFERENCES_PER_FILE + 1), "ok.yaml": `a:1@${D}` });
    const report = await scanDirectory(root);
    expect(report.pinned.map((p) => p.path)).toEqual(["ok.yaml"]);
    expect(report.skippedFiles).toEqual([{ path: "packed.txt", kind: "too-many-references", reason: expect.stringMatching(/^more than 10000 references \(10001\)/) }]);
  });

  it("reads files larger than its buffers whole", async () => {
    const filler = `# ${"y".repeat(78)}\n`;
    const root = tree({
      "medium.yaml": `${filler.repeat(3000)}image: a:1@${D}\n`,
      "large.yaml": `image: b:1@${D}\n${filler.repeat(30_000)}image: c:1@${E}`,
    });
    const report = await scanDirectory(root);
    expect(where(report)).toEqual(["large.yaml:1:8 library/b", "large.yaml:30002:8 library/c", "medium.yaml:3001:8 library/a"]);
  });

  it("reports symbolic links without following them, in or out of the root", async () => {
    const outside = tree({ "secret.yaml": `a:1@${D}`, "dir/x.yaml": `b:1@${D}` });
    const root = tree({ "real.yaml": `c:1@${D}` });
    symlinkSync(path.join(outside, "secret.yaml"), path.join(root, "link.yaml"));
    symlinkSync(path.join(outside, "dir"), path.join(root, "linkdir"));
    symlinkSync("real.yaml", path.join(root, "inside.yaml"));
    const report = await scanDirectory(root);
    expect(report.pinned.map((p) => p.path)).toEqual(["real.yaml"]);
    expect(report.skippedFiles).toEqual([
      { path: "inside.yaml", kind: "symlink", reason: "symbolic link (not followed)" },
      { path: "link.yaml", kind: "symlink", reason: "symbolic link (not followed)" },
      { path: "linkdir", kind: "symlink", reason: "symbolic link (not followed)" },
    ]);
  });

  it("does not hang on a FIFO, and lists it as not scanned", async () => {
    const root = tree({ "a.yaml": `a:1@${D}` });
    expect(spawnSync("mkfifo", [path.join(root, "pipe")]).status).toBe(0);
    const report = await scanDirectory(root);
    expect(report.pinned.map((p) => p.path)).toEqual(["a.yaml"]);
    expect(report.skippedFiles).toEqual([{ path: "pipe", kind: "special", reason: "not a regular file (FIFO, socket or device)" }]);
  });

  it("finds pins in files and folders whose names are not UTF-8, and names them reversibly", async () => {
    const root = tree({ "plain.yaml": `a:1@${D}` });
    const raw = Buffer.from(root, "utf8");
    const join = (...parts: (string | number[])[]) =>
      Buffer.concat([raw, ...parts.map((p) => Buffer.concat([Buffer.from("/"), typeof p === "string" ? Buffer.from(p) : Buffer.from(p)]))]);
    writeFileSync(join([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x79, 0x61, 0x6d, 0x6c]), `b:1@${D}`); // caf\xe9.yaml
    mkdirSync(join([0x64, 0x69, 0x72, 0xfe]));
    writeFileSync(join([0x64, 0x69, 0x72, 0xfe], "x.yaml"), `c:1@${D}`); // dir\xfe/x.yaml
    writeFileSync(join([0xed, 0xb2, 0x80, 0x0a]), `d:1@${D}`); // an encoded surrogate and a line break
    writeFileSync(join("caf\u00e9.yaml"), `e:1@${D}`); // the UTF-8 name beside the latin1 one

    const report = await scanDirectory(root);
    const byRepository = new Map(report.pinned.map((p) => [p.reference.repository, p.path]));
    expect([...byRepository.keys()].sort()).toEqual(["library/a", "library/b", "library/c", "library/d", "library/e"]);
    expect(byRepository.get("library/b")).toBe("caf\udce9.yaml");
    expect(byRepository.get("library/c")).toBe("dir\udcfe/x.yaml");
    expect(byRepository.get("library/e")).toBe("caf\u00e9.yaml");
    expect(report.skippedFiles).toEqual([]);
    // Every name goes back to the bytes it came from, and JSON carries it there and back.
    for (const name of byRepository.values()) {
      expect(readFileSync(joinPathBytes(root, name)).includes("@sha256:")).toBe(true);
      expect(pathBytes(JSON.parse(JSON.stringify(name)) as string).equals(pathBytes(name))).toBe(true);
    }
    expect(JSON.stringify(byRepository.get("library/b"))).toBe('"caf\\udce9.yaml"');
    expect(displayPath(byRepository.get("library/b")!)).toBe("caf\\xe9.yaml");
    expect(displayPath(byRepository.get("library/d")!)).toBe("\\xed\\xb2\\x80\\x0a");
    expect(report.fingerprints.get("caf\udce9.yaml")).toBe(createHash("sha256").update(`b:1@${D}`).digest("hex"));
  });

  it("reports unreadable files and directories and scans the rest", async () => {
    const root = tree({ "ok.yaml": `a:1@${D}`, "locked.yaml": `b:1@${D}`, "closed/x.yaml": `c:1@${D}` });
    chmodSync(path.join(root, "locked.yaml"), 0o000);
    chmodSync(path.join(root, "closed"), 0o000);
    const report = await scanAsUnprivileged(root);
    expect(report.pinned.map((p) => p.path)).toEqual(["ok.yaml"]);
    expect(report.skippedFiles).toEqual([
      { path: "closed", kind: "unreadable", reason: "directory not readable: permission denied" },
      { path: "locked.yaml", kind: "unreadable", reason: "not readable: permission denied" },
    ]);
  });

  it("keeps every other byte when a found digest is rewritten", async () => {
    const original = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`# caf\u00e9 \u201cquoted\u201d\r\nimage: a:1@${D}\r\n\tx: 'b:2@${D}'`, "utf8"),
      Buffer.from([0xff, 0x80]),
    ]);
    const root = tree({ "f.yaml": original });
    const report = await scanDirectory(root);
    const edits = report.pinned.map((p) => ({ digestOffset: p.digestOffset, from: D, to: E }));
    expect(edits).toHaveLength(2);
    const text = readFileSync(path.join(root, "f.yaml"), "latin1");
    const rewritten = Buffer.from(applyDigestEdits(text, edits), "latin1");
    expect(rewritten).toEqual(Buffer.from(original.toString("latin1").replaceAll(D, E), "latin1"));
  });

  it("refuses a root that does not exist or is not a directory, in one line", async () => {
    const root = tree({ "file.txt": "x" });
    await expect(scanDirectory(path.join(root, "missing"))).rejects.toThrow(/^cannot scan ".*missing": no such file or directory$/);
    await expect(scanDirectory(path.join(root, "file.txt"))).rejects.toThrow(/: not a directory$/);
  });
});

/**
 * Permission bits do not stop root, so as root the scan runs in a child process that loads the scanner as root
 * (the checkout may sit in a folder only root can read, such as a `mktemp -d` folder) and only then drops to an
 * unprivileged uid and gid for the scan itself; otherwise it runs here.
 */
async function scanAsUnprivileged(root: string): Promise<ScanReport> {
  if (process.getuid?.() !== 0) return scanDirectory(root);
  chmodSync(root, 0o755);
  const module = fileURLToPath(new URL("../../src/scan/directory.ts", import.meta.url));
  const script = [
    `const m = await import(${JSON.stringify(module)});`,
    "process.setgroups([]); process.setgid(65534); process.setuid(65534);",
    "if (process.getuid() !== 65534 || process.getegid() !== 65534) throw new Error('privileges not dropped');",
    `console.log(JSON.stringify(await m.scanDirectory(${JSON.stringify(root)})));`,
  ].join("\n");
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`unprivileged scan failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as ScanReport;
}
