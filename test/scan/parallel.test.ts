import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanDirectory, scanTree, type FileFindings } from "../../src/scan/directory.js";
import { decodeName, joinPathBytes } from "../../src/scan/names.js";
import { scanText } from "../../src/scan/scanner.js";
import { seededRandom } from "../support/random.js";
import { runCli } from "../support/cli.js";
import { candidateJson } from "../../src/cli/commands/scan.js";

// A generated tree of a few thousand files, large enough that the scan hands batches to worker threads, holding
// what a scan must get right wherever a file is read: pins in many syntaxes, digest-only and ignored references,
// binary files, files too large, symbolic links, FIFOs, names that are not UTF-8 or sort awkwardly (`a` beside
// `a.txt`, `a-b`, `a/`), empty files and unreadable ones.
let root: string;
const MAX_FILE_SIZE = 64 * 1024;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "digesta-parallel-"));
  const random = seededRandom(7);
  const hex = () => Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(random() * 16)]).join("");
  const pin = () => `${["nginx", "ghcr.io/acme/api", "cgr.dev/chainguard/static", "localhost:5000/x/y"][Math.floor(random() * 4)]}:${["1", "latest", "v2.3"][Math.floor(random() * 3)]}@sha256:${hex()}`;
  const line = (): string => {
    const r = random();
    if (r < 0.05) return `image: ${pin()}`;
    if (r < 0.06) return `FROM ${pin()} # digesta:ignore`;
    if (r < 0.07) return `digest only: alpine@sha256:${hex()}`;
    if (r < 0.08) return `bad host: fake_repo.azurecr.io/x:1@sha256:${hex()}`;
    return "plain text without pins, or with sha256:" + hex().slice(0, 10);
  };
  const write = (relative: Buffer | string, content: Buffer | string) => {
    const absolute = typeof relative === "string" ? path.join(root, relative) : joinPathBytes(root, decodeName(relative));
    writeFileSync(absolute, content);
  };
  for (let d = 0; d < 30; d++) {
    const dir = `d${d % 3}/${d}`;
    mkdirSync(path.join(root, dir), { recursive: true });
    for (let f = 0; f < 100; f++) {
      const lines = Array.from({ length: 1 + Math.floor(random() * 40) }, line);
      write(`${dir}/f${f}.yaml`, `${lines.join("\n")}\n`);
    }
    // Names that sort around a directory's own: `a` (a directory) beside `a.txt`, `a-b` and `a0`.
    mkdirSync(path.join(root, dir, "a"));
    write(`${dir}/a/inside.txt`, `image: ${pin()}\n`);
    for (const name of ["a.txt", "a-b", "a0", "A"]) write(`${dir}/${name}`, `x ${pin()}\n`);
    write(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.of(0xe9), Buffer.from(".yaml")]), `image: ${pin()}\n`);
    write(`${dir}/binary.bin`, Buffer.concat([Buffer.from(`image: ${pin()}\n`), Buffer.of(0, 1, 2)]));
    write(`${dir}/large.yaml`, `image: ${pin()}\n${"#".repeat(MAX_FILE_SIZE)}\n`);
    write(`${dir}/empty`, "");
    symlinkSync("f0.yaml", path.join(root, dir, "link.yaml"));
    if (d % 10 === 0) spawnSync("mkfifo", [path.join(root, dir, "fifo")]);
    if (d % 7 === 0) {
      write(`${dir}/secret.yaml`, `image: ${pin()}\n`);
      chmodSync(path.join(root, dir, "secret.yaml"), 0);
    }
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The straightforward reading the scan must agree with: every directory listed, every regular file read whole,
 * each text file scanned as latin1, all of it sorted at the end.
 */
function straightforward(top: string): { findings: FileFindings[]; notScanned: string[] } {
  const findings: FileFindings[] = [];
  const notScanned: string[] = [];
  const visit = (relative: Buffer[]) => {
    const absolute = Buffer.concat([Buffer.from(top), ...relative.flatMap((name) => [Buffer.from("/"), name])]);
    for (const entry of readdirSync(absolute, { withFileTypes: true, encoding: "buffer" })) {
      const parts = [...relative, entry.name];
      const name = parts.map(decodeName).join("/");
      if (entry.isDirectory()) visit(parts);
      else if (entry.isSymbolicLink()) notScanned.push(`${name} symlink`);
      else if (!entry.isFile()) notScanned.push(`${name} special`);
      else {
        let bytes: Buffer;
        try {
          bytes = readFileSync(Buffer.concat([absolute, Buffer.from("/"), entry.name]));
        } catch {
          notScanned.push(`${name} unreadable`);
          continue;
        }
        if (bytes.length > MAX_FILE_SIZE) notScanned.push(`${name} too-large`);
        else if (bytes.subarray(0, 8192).includes(0)) notScanned.push(`${name} binary`);
        else {
          const scan = scanText(name, bytes.toString("latin1"));
          if (scan.pinned.length + scan.skipped.length > 0) findings.push({ path: name, ...scan, fingerprint: createHash("sha256").update(bytes).digest("hex") });
        }
      }
    }
  };
  visit([]);
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  findings.sort((a, b) => byPath(a.path, b.path));
  return { findings, notScanned: notScanned.sort(byPath) };
}

describe("scanning with worker threads", () => {
  it("finds exactly what the straightforward reading finds, in the same order, with two or three threads as with one", async () => {
    const expected = straightforward(root);
    expect(expected.findings.length).toBeGreaterThan(2000);
    const unprivileged = process.getuid?.() !== 0;
    for (const threads of [1, 2, 3]) {
      const streamed: FileFindings[] = [];
      const totals = await scanTree(root, { threads, maxFileSize: MAX_FILE_SIZE, fingerprints: true, onFindings: (file) => streamed.push(file) });
      // As root the unreadable files are read; the straightforward reading does the same.
      expect(streamed.map((f) => f.path)).toEqual(expected.findings.map((f) => f.path));
      expect(streamed).toEqual(expected.findings);
      expect(totals.skippedFiles.map((f) => `${f.path} ${f.kind}`)).toEqual(expected.notScanned);
      if (unprivileged) expect(totals.skippedFiles.some((f) => f.kind === "unreadable")).toBe(true);

      const report = await scanDirectory(root, { threads, maxFileSize: MAX_FILE_SIZE });
      expect(report.pinned).toEqual(expected.findings.flatMap((f) => f.pinned));
      expect(report.skipped).toEqual(expected.findings.flatMap((f) => f.skipped));
      expect(report.fingerprints).toEqual(new Map(expected.findings.filter((f) => f.pinned.length > 0).map((f) => [f.path, f.fingerprint])));
      expect(report.filesScanned).toBe(totals.filesScanned);
    }
  });

  it("a worker answers a batch with what this thread reads in it", async () => {
    const { ReadPool } = await import("../../src/scan/read-pool.js");
    const { FileReader } = await import("../../src/scan/read.js");
    const options = { root, maxFileSize: MAX_FILE_SIZE, fingerprints: true };
    const paths = readdirSync(path.join(root, "d0/0")).map((name) => `d0/0/${name}`).sort();
    const pool = new ReadPool(1, options);
    try {
      expect(pool.offer({ seq: 7, paths })).toBe(true);
      let collected = pool.collect();
      for (let tries = 0; tries < 500 && collected.replies.length === 0 && collected.orphans.length === 0; tries++) {
        await pool.waitForReplies();
        collected = pool.collect();
      }
      expect(collected.orphans).toEqual([]);
      expect(collected.replies).toEqual([{ seq: 7, result: new FileReader(options).readBatch(paths) }]);
      expect(collected.replies[0]!.result.findings.length).toBeGreaterThan(50);
    } finally {
      pool.close();
    }
  });

  it("reads in this thread what a worker that cannot start was sent", async () => {
    const { ReadPool } = await import("../../src/scan/read-pool.js");
    const pool = new ReadPool(1, { root, maxFileSize: MAX_FILE_SIZE, fingerprints: false }, new URL("file:///nonexistent/worker.js"));
    const request = { seq: 0, paths: ["d0/0/f0.yaml"] };
    expect(pool.offer(request)).toBe(true);
    let orphans: unknown[] = [];
    for (let tries = 0; tries < 100 && orphans.length === 0; tries++) {
      await pool.waitForReplies();
      orphans = pool.collect().orphans;
    }
    pool.close();
    expect(orphans).toEqual([request]);
    expect(pool.offer({ seq: 1, paths: [] })).toBe(false);
  });

  it("`digesta scan --json` streams, piece by piece, exactly the JSON of the whole list", async () => {
    const report = await scanDirectory(root);
    const run = await runCli("scan", root, "--json");
    expect(run.stdout).toBe(`${JSON.stringify(report.pinned.map(candidateJson), null, 2)}\n`);
    const text = await runCli("scan", root);
    expect(text.stdout.split("\n").length - 1).toBe(report.pinned.length);
  });
});
