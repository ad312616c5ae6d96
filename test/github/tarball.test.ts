import { spawnSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveError, extractTarball, type ExtractLimits } from "../../src/github/tarball.js";

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link" | "fifo"; content?: string; linkname?: string; mode?: number };

async function archive(entries: Entry[]): Promise<Readable> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? "file", mode: e.mode ?? 0o644, ...(e.linkname ? { linkname: e.linkname } : {}) };
    if ((e.type ?? "file") === "file") pack.entry(header, e.content ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Readable.from([gzipSync(Buffer.concat(chunks))]);
}

const LIMITS: ExtractLimits = { maxBytes: 1024 * 1024, maxFiles: 10, maxFileBytes: 1000 };

describe("extractTarball", () => {
  let parent: string;
  let root: string;
  beforeEach(async () => {
    parent = await mkdtemp(path.join(tmpdir(), "digesta-tar-test-"));
    root = path.join(parent, "root");
    await import("node:fs/promises").then((fs) => fs.mkdir(root));
  });
  afterEach(() => rm(parent, { recursive: true, force: true }));

  it("drops GitHub's top folder and writes files and folders", async () => {
    const summary = await extractTarball(
      await archive([
        { name: "o-r-abc/", type: "directory" },
        { name: "o-r-abc/a/b/c.txt", content: "hello" },
        { name: "o-r-abc/top.sh", content: "#!/bin/sh", mode: 0o755 },
      ]),
      root,
      LIMITS,
    );
    expect(await readFile(path.join(root, "a/b/c.txt"), "utf8")).toBe("hello");
    expect(summary).toMatchObject({ files: 2, bytes: 14, skipped: [] });
    expect([...summary.executable]).toEqual(["top.sh"]);
  });

  it("never creates links or special files, and writes a file named under a skipped link inside the root", async () => {
    const summary = await extractTarball(
      await archive([
        { name: "t/escape", type: "symlink", linkname: "../../../../etc" },
        { name: "t/hard", type: "link", linkname: "t/escape" },
        { name: "t/pipe", type: "fifo" },
        { name: "t/escape/passwd", content: "inside" },
      ]),
      root,
      LIMITS,
    );
    expect(summary.skipped.map((s) => s.path)).toEqual(["escape", "hard", "pipe"]);
    expect(summary.skipped[0]!.reason).toMatch(/symbolic link/);
    const escape = await lstat(path.join(root, "escape"));
    expect(escape.isDirectory()).toBe(true);
    expect(await readFile(path.join(root, "escape/passwd"), "utf8")).toBe("inside");
    expect(await readdir(parent)).toEqual(["root"]);
  });

  it.each([
    ["a parent-directory path", "t/../../outside"],
    ["an absolute path", "/tmp/outside"],
  ])("stops at %s", async (_label, name) => {
    const error = await extractTarball(await archive([{ name, content: "x" }]), root, LIMITS).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).code).toBe("UNSAFE_PATH");
    expect((error as Error).message).toContain("outside the repository");
    expect(await readdir(parent)).toEqual(["root"]);
  });

  it("leaves out files whose names are not UTF-8, which the API could not name, and says so", async () => {
    // GNU tar writes a name's bytes as they are, as git archive does.
    const source = path.join(parent, "source");
    await mkdir(path.join(source, "t"), { recursive: true });
    await writeFile(path.join(source, "t", "ok.yaml"), "ok");
    await writeFile(Buffer.from(`${source}/t/caf\xe9.yaml`, "latin1"), "x");
    const packed = spawnSync("tar", ["--format=ustar", "-czf", "-", "-C", source, "t"]);
    expect(packed.status).toBe(0);

    const summary = await extractTarball(Readable.from([packed.stdout]), root, LIMITS);
    expect(await readdir(root)).toEqual(["ok.yaml"]);
    expect(summary.skipped).toEqual([{ path: "caf\ufffd.yaml", reason: "name is not UTF-8 (the GitHub API cannot name it)" }]);
  });

  it("stops past the file count, saying what the limit is", async () => {
    const entries = Array.from({ length: 11 }, (_, i) => ({ name: `t/f${i}`, content: "x" }));
    await expect(extractTarball(await archive(entries), root, LIMITS)).rejects.toThrow("more than 10 files");
  });

  it("stops past the entry count too, so empty folders and links cannot pile up on disk or in memory", async () => {
    const folders = Array.from({ length: 21 }, (_, i) => ({ name: `t/d${i}/`, type: "directory" as const }));
    await expect(extractTarball(await archive(folders), root, LIMITS)).rejects.toThrow("more than 20 files, folders and links");
    const links = Array.from({ length: 6 }, (_, i) => ({ name: `t/l${i}`, type: "symlink" as const, linkname: "/etc/passwd" }));
    const error = await extractTarball(await archive(links), root, { ...LIMITS, maxEntries: 5 }).catch((e: unknown) => e);
    expect((error as ArchiveError).code).toBe("TOO_MANY_FILES");
  });

  it("stops when the archive unpacks to more than the byte limit (a gzip bomb)", async () => {
    const big = "0".repeat(900);
    const entries = Array.from({ length: 5 }, (_, i) => ({ name: `t/f${i}`, content: big }));
    const error = await extractTarball(await archive(entries), root, { ...LIMITS, maxBytes: 3000 }).catch((e: unknown) => e);
    expect((error as ArchiveError).code).toBe("TOO_LARGE");
    expect((error as Error).message).toMatch(/unpacks to more than/);
  });

  it("skips a file over the per-file limit and reports it", async () => {
    const summary = await extractTarball(await archive([{ name: "t/big", content: "x".repeat(2000) }, { name: "t/small", content: "y" }]), root, LIMITS);
    expect(summary.skipped).toEqual([{ path: "big", reason: expect.stringContaining("larger than") }]);
    expect(await readdir(root)).toEqual(["small"]);
  });

  it("refuses a duplicate entry instead of overwriting what was written", async () => {
    const error = await extractTarball(await archive([{ name: "t/a", content: "first" }, { name: "t/a", content: "second" }]), root, LIMITS).catch((e: unknown) => e);
    expect((error as ArchiveError).code).toBe("BAD_ARCHIVE");
    expect(await readFile(path.join(root, "a"), "utf8")).toBe("first");
  });

  it("reports a corrupt archive as such", async () => {
    const error = await extractTarball(Readable.from([Buffer.from("not gzip at all")]), root, LIMITS).catch((e: unknown) => e);
    expect((error as ArchiveError).code).toBe("BAD_ARCHIVE");
  });
});
