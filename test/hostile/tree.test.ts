// Hostile trees for scan, check, update and pin against a real registry: every kind of file a checkout can hold
// (links out of the tree and in loops, FIFOs, sockets, names with newlines, control characters and invalid UTF-8,
// long lines, binary and UTF-16 files holding @sha256:, CRLF and BOMs, read-only and hard-linked files, .git
// internals), files swapped for other kinds of file while a run waits on the registry, and files and folders
// nobody may read. Only digests change, only in files digesta may write; everything else is named with its reason.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, linkSync, mkdirSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { copyFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile, chmod, symlink, readdir } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinPathBytes, pathBytes } from "../../src/scan/names.js";
import { runCli } from "../support/cli.js";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const ROOT = join(import.meta.dirname, "..", "..");
let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let proxy: FaultProxy;
/** Runs once, when the first manifest request reaches the proxy: the tree changes while digesta waits on the network. */
let onManifest: (() => void) | undefined;
const temporaries: string[] = [];
const sockets: Server[] = [];
const previousDockerConfig = process.env["DOCKER_CONFIG"];

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-hostile-tree";
  reg = await startRegistry();
  app = await movingTag(reg, "acme/app", "1");
  proxy = await startFaultProxy({
    target: reg.url,
    choose: (request) => {
      if (onManifest && request.path.includes("/manifests/")) {
        const hook = onManifest;
        onManifest = undefined;
        hook();
      }
      return "none";
    },
  });
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  for (const server of sockets) server.close();
  await proxy?.stop();
  await reg?.stop();
  for (const dir of temporaries) {
    execFileSync("chmod", ["-R", "u+rwx", dir]);
    await rm(dir, { recursive: true, force: true });
  }
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "digesta-hostile-tree-"));
  temporaries.push(dir);
  return dir;
}

const image = () => `${proxy.host}/acme/app:1`;
const stale = () => `${image()}@${app.before.digest}`;
const fresh = () => `${image()}@${app.after.digest}`;
const pinLine = () => `image: ${stale()}\n`;

function listen(path: string): Promise<void> {
  const server = createServer();
  sockets.push(server);
  return new Promise((resolve) => server.listen(path, resolve));
}

interface Entry {
  readonly kind: "file" | "link" | "fifo" | "socket" | "dir";
  readonly mode: number;
  readonly bytes?: Buffer;
  readonly target?: string;
}

/** Every entry under `dir` (names as bytes, escaped as the scanner does), with what it is and holds. */
async function snapshot(dir: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const walk = async (relative: string): Promise<void> => {
    const names = await readdir(joinPathBytes(dir, relative || "."), { encoding: "buffer" });
    for (const raw of names) {
      const name = raw.toString("latin1");
      const path = relative ? `${relative}/${name}` : name;
      const absolute = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(path, "latin1")]);
      const info = await lstat(absolute);
      const mode = info.mode & 0o7777;
      if (info.isSymbolicLink()) entries.set(path, { kind: "link", mode, target: await readlink(absolute, "utf8") });
      else if (info.isFIFO()) entries.set(path, { kind: "fifo", mode });
      else if (info.isSocket()) entries.set(path, { kind: "socket", mode });
      else if (info.isDirectory()) {
        entries.set(path, { kind: "dir", mode });
        if (mode & 0o100) await walk(path);
      } else entries.set(path, { kind: "file", mode, bytes: await readFile(absolute) });
    }
  };
  await walk("");
  return entries;
}

describe("a tree holding every kind of hostile file", () => {
  let dir: string;
  let outside: string;
  let before: Map<string, Entry>;

  beforeAll(async () => {
    dir = await folder();
    outside = await folder();
    await writeFile(join(outside, "secret.yaml"), pinLine());
    const files: Record<string, string | Buffer> = {
      "crlf.yaml": `a: 1\r\nimage: ${stale()}\r\nb: 2\r\n`,
      "bom.yaml": `\ufeffimage: ${stale()}\n`,
      "no-newline.yaml": `image: ${stale()}`,
      "mixed.txt": `one\r\nFROM ${stale()}\rtwo\n\ttab ${stale()}\r\n`,
      "long-line.yaml": `${"x".repeat(2 * 1024 * 1024)} image: ${stale()} ${"y".repeat(1024 * 1024)}\n`,
      "new\nline.yaml": pinLine(),
      "esc\u001b[31mred.yaml": pinLine(),
      "binary.dat": Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(pinLine())]),
      "utf16.yaml": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(pinLine(), "utf16le")]),
      "utf16-no-pin.txt": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("hello\n", "utf16le")]),
      // Big-endian, as some Windows and Java tools write it.
      "utf16be.yaml": Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(pinLine(), "utf16le").swap16()]),
      ".git/config": pinLine(),
      ".git/refs/heads/main.yaml": pinLine(),
      "deep/a/b/c/d.yaml": pinLine(),
      "run.sh": `#!/bin/sh\ndocker run ${stale()}\n`,
      "locked.yaml": pinLine(),
      "linked.yaml": pinLine(),
    };
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir, name, ".."), { recursive: true });
      await writeFile(join(dir, name), content);
    }
    await writeFile(joinPathBytes(dir, "latin\udce9.yaml"), pinLine());
    await chmod(join(dir, "run.sh"), 0o750);
    await chmod(join(dir, "locked.yaml"), 0o444);
    linkSync(join(dir, "linked.yaml"), join(dir, "deep", "hardlink.yaml"));
    await symlink(join(outside, "secret.yaml"), join(dir, "outside.yaml"));
    await symlink(outside, join(dir, "outside-dir"));
    await symlink("loop-b", join(dir, "loop-a"));
    await symlink("loop-a", join(dir, "loop-b"));
    await symlink("..", join(dir, "deep", "up"));
    await symlink("crlf.yaml", join(dir, "alias.yaml"));
    execFileSync("mkfifo", [join(dir, "pipe.yaml")]);
    await listen(join(dir, "daemon.sock"));
    before = await snapshot(dir);
  });

  it("scan lists what it can read and names every other file with its reason; a UTF-16 file holding pins fails check", async () => {
    const scan = await runCli("scan", dir, "--json");
    expect(scan.code, scan.stderr).toBe(0);
    const paths = [...new Set((JSON.parse(scan.stdout) as { path: string }[]).map((p) => p.path))].sort();
    expect(paths).toEqual(
      [
        "bom.yaml", "crlf.yaml", "deep/a/b/c/d.yaml", "deep/hardlink.yaml", "esc\u001b[31mred.yaml", "latin\udce9.yaml", "linked.yaml",
        "locked.yaml", "long-line.yaml", "mixed.txt", "new\nline.yaml", "no-newline.yaml", "run.sh",
      ].sort(),
    );

    const check = await runCli("check", dir, "--json");
    expect(check.code, check.stderr).toBe(2);
    const notScanned = (JSON.parse(check.stdout) as { notScanned: { path: string; kind: string }[] }).notScanned;
    const kinds = Object.fromEntries(notScanned.map((n) => [n.path, n.kind]));
    expect(kinds).toEqual({
      "alias.yaml": "symlink",
      "binary.dat": "binary",
      "daemon.sock": "special",
      "deep/up": "symlink",
      "loop-a": "symlink",
      "loop-b": "symlink",
      "outside-dir": "symlink",
      "outside.yaml": "symlink",
      "pipe.yaml": "special",
      "utf16-no-pin.txt": "binary",
      "utf16.yaml": "encoding",
      "utf16be.yaml": "encoding",
    });
    // Text output: one line per file, names escaped so that no newline or escape sequence reaches the terminal.
    const text = await runCli("scan", dir);
    for (const line of (text.stdout + text.stderr).split("\n")) expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(text.stdout).toContain("new\\x0aline.yaml:1:8\t");
    expect(text.stdout).toContain("esc\\x1b[31mred.yaml:1:8\t");
    expect(text.stdout).toContain("latin\\xe9.yaml:1:8\t");
    expect(text.stderr).toMatch(/^not scanned utf16\.yaml: UTF-16 text holding @sha256:/m);
  });

  it("update changes only digests, only in files it may write, and leaves every other entry as it was", async () => {
    const run = await runCli("update", dir, "--no-diff", "--json");
    expect(run.code, run.stderr).toBe(2);
    const files = (JSON.parse(run.stdout) as { files: { path: string; ok: boolean; error?: string }[] }).files;
    const refused = Object.fromEntries(files.filter((f) => !f.ok).map((f) => [f.path, f.error]));
    expect(refused).toEqual({
      "locked.yaml": "read-only (no write permission for anyone); left as it is",
      "linked.yaml": "it has 2 hard links, which a rewrite would split; left as it is",
      "deep/hardlink.yaml": "it has 2 hard links, which a rewrite would split; left as it is",
    });

    const after = await snapshot(dir);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    // The report's names are digesta's (a byte that is not UTF-8 as U+DCxx); the snapshot's are bytes as Latin-1.
    const written = new Set(files.filter((f) => f.ok).map((f) => pathBytes(f.path).toString("latin1")));
    expect(written.size).toBe(10);
    for (const [path, was] of before) {
      const now = after.get(path)!;
      expect({ kind: now.kind, mode: now.mode, target: now.target }, path).toEqual({ kind: was.kind, mode: was.mode, target: was.target });
      if (was.kind !== "file") continue;
      const expected = written.has(path) ? Buffer.from(was.bytes!.toString("latin1").replaceAll(app.before.digest, app.after.digest), "latin1") : was.bytes!;
      expect(now.bytes!.equals(expected), `${path} holds other bytes than expected`).toBe(true);
      if (written.has(path)) expect(now.bytes!.equals(was.bytes!), `${path} was not moved`).toBe(false);
    }
    expect(await readFile(join(outside, "secret.yaml"), "utf8")).toBe(pinLine());
    // The two names of the hard link are still one file.
    expect((await stat(join(dir, "linked.yaml"))).ino).toBe((await stat(join(dir, "deep", "hardlink.yaml"))).ino);
  });
});

describe("a file turned into something else while update waits on the registry", () => {
  const cases: { name: string; change: (path: string, dir: string) => void; reason: RegExp }[] = [
    { name: "a FIFO", change: (path) => (unlinkSync(path), execFileSync("mkfifo", [path])), reason: /^not a regular file$/ },
    { name: "a symbolic link to a file outside", change: (path, dir) => (unlinkSync(path), symlinkSync(join(dir, "..", "elsewhere.yaml"), path)), reason: /symbolic link/ },
    { name: "nothing (deleted)", change: (path) => unlinkSync(path), reason: /no longer there/ },
    { name: "a folder", change: (path) => (unlinkSync(path), mkdirSync(path)), reason: /./ },
    { name: "a new file with the same bytes", change: (path) => (renameSync(path, `${path}.old`), execFileSync("cp", [`${path}.old`, path])), reason: /^$/ },
  ];

  for (const { name, change, reason } of cases) {
    it(`is not written through when it became ${name}, and nothing hangs`, async () => {
      const dir = await folder();
      await writeFile(join(dir, "target.yaml"), pinLine());
      await writeFile(join(dir, "calm.yaml"), pinLine());
      onManifest = () => change(join(dir, "target.yaml"), dir);
      const run = await runCli("update", dir, "--no-diff", "--json");
      onManifest = undefined;
      const files = (JSON.parse(run.stdout) as { files: { path: string; ok: boolean; error?: string }[] }).files;
      expect(files.find((f) => f.path === "calm.yaml")).toEqual({ path: "calm.yaml", ok: true });
      expect(await readFile(join(dir, "calm.yaml"), "utf8")).toBe(pinLine().replace(app.before.digest, app.after.digest));
      const target = files.find((f) => f.path === "target.yaml")!;
      if (name.startsWith("a new file")) {
        // Same bytes under the same name: as good as the file scanned, and the old one is untouched.
        expect(target.ok).toBe(true);
        expect(await readFile(join(dir, "target.yaml.old"), "utf8")).toBe(pinLine());
        expect(run.code).toBe(0);
        return;
      }
      expect(run.code, run.stderr).toBe(2);
      expect(target.ok).toBe(false);
      expect(target.error).toMatch(reason);
      expect(target.error).not.toContain("\n");
      expect(target.error).not.toContain("/proc/self/fd");
      const info = await lstat(join(dir, "target.yaml")).catch(() => undefined);
      if (info?.isSymbolicLink()) expect(await readFile(join(dir, "..", "elsewhere.yaml"), "utf8").catch(() => "absent")).toBe("absent");
    });
  }
});

describe("files and folders the user running digesta may not read or write", () => {
  // Root reads everything: the run is made as nobody (65534) when the suite runs as root, as CI does.
  const asRoot = process.getuid?.() === 0;
  // nobody must be able to run this Node: one installed under root's own home (scripts/with-node24.sh puts Node 24 in
  // ~/.cache) is out of its reach, so a copy of the binary is made where it can.
  let node = process.execPath;
  beforeAll(async () => {
    if (!asRoot || spawnSync(node, ["-e", "0"], { uid: 65534, gid: 65534 }).error === undefined) return;
    const bin = await mkdtemp(join(tmpdir(), "digesta-node-"));
    chmodSync(bin, 0o755);
    node = join(bin, "node");
    await copyFile(process.execPath, node);
    chmodSync(node, 0o755);
  });

  function runAs(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(node, ["--import", "tsx", join(ROOT, "src", "cli", "bin.ts"), ...args], {
        cwd: ROOT,
        env: { PATH: process.env["PATH"] ?? "", HOME: tmpdir(), DOCKER_CONFIG: "/nonexistent", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("are named with their reasons, make check and update exit 2, and the readable pins still move", { timeout: 120_000 }, async () => {
    const dir = await folder();
    await writeFile(join(dir, "ok.yaml"), pinLine());
    await writeFile(join(dir, "sealed.yaml"), pinLine());
    await mkdir(join(dir, "closed"));
    await writeFile(join(dir, "closed", "x.yaml"), pinLine());
    await mkdir(join(dir, "frozen"));
    await writeFile(join(dir, "frozen", "y.yaml"), pinLine());
    if (asRoot) execFileSync("chown", ["-R", "65534:65534", dir]);
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "sealed.yaml"), 0o000);
    chmodSync(join(dir, "closed"), 0o000);
    chmodSync(join(dir, "frozen"), 0o555);

    const check = await runAs(["check", dir, "--json"]);
    expect(check.code, check.stderr).toBe(2);
    const notScanned = (JSON.parse(check.stdout) as { notScanned: { path: string; kind: string; reason: string }[] }).notScanned;
    expect(notScanned).toEqual([
      { path: "closed", kind: "unreadable", reason: "directory not readable: permission denied" },
      { path: "sealed.yaml", kind: "unreadable", reason: "not readable: permission denied" },
    ]);

    const update = await runAs(["update", dir, "--no-diff", "--json"]);
    expect(update.code, update.stderr).toBe(2);
    const files = (JSON.parse(update.stdout) as { files: { path: string; ok: boolean; error?: string }[] }).files;
    expect(files).toEqual([
      { path: "frozen/y.yaml", ok: false, error: "permission denied" },
      { path: "ok.yaml", ok: true },
    ]);
    expect(await readFile(join(dir, "ok.yaml"), "utf8")).toBe(pinLine().replace(app.before.digest, app.after.digest));
    expect(await readFile(join(dir, "frozen", "y.yaml"), "utf8")).toBe(pinLine());
    expect((await readdir(join(dir, "frozen"))).sort()).toEqual(["y.yaml"]);
    expect(update.stderr).not.toMatch(/^\s+at /m);
  });
});
