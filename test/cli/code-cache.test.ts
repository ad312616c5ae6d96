import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runProcess } from "../support/process.js";

// bin/digesta.js: the command line started from code V8 compiled in an earlier run. What it must never do: run
// code compiled from another file than the one on disk, take code from a place someone else can write, or change
// what a run does.

const ROOT = resolve(import.meta.dirname, "../..");
const CODE_CACHE = join(ROOT, "bin", "digesta.js");
const { cacheDirectory } = createRequire(import.meta.url)(CODE_CACHE) as {
  cacheDirectory(env: NodeJS.ProcessEnv): string | undefined;
};
const NODE_KEEPS_ITS_OWN = typeof (createRequire(import.meta.url)("node:module") as { enableCompileCache?: unknown }).enableCompileCache === "function";

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "digesta-code-cache-"));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs `file` through runFromCodeCache in a process of its own, as bin/digesta.js does: what it printed and how it ran. */
async function runThroughCache(file: string, dir: string) {
  const script = `const r = require(${JSON.stringify(CODE_CACHE)}).runFromCodeCache(process.argv[1], process.argv[2], "test"); console.log("ran:" + r);`;
  const run = await runProcess(process.execPath, ["-e", script, file, dir], { cwd: work, env: { PATH: process.env["PATH"] } });
  return { ...run, how: /ran:(\w+)/.exec(run.stdout)?.[1], printed: run.stdout.replace(/ran:\w+\n?$/, "") };
}

describe("the cache directory", () => {
  it("is the user's own, under XDG_CACHE_HOME, for this Node, and writable by no one else", async () => {
    const dir = cacheDirectory({ XDG_CACHE_HOME: work });
    expect(dir).toBe(join(work, "digesta", `code-${process.version}-${process.arch}`));
    expect((await stat(dir!)).mode & 0o777).toBe(0o700);
    expect(cacheDirectory({ HOME: work })).toBe(join(work, ".cache", "digesta", `code-${process.version}-${process.arch}`));
  });

  it("follows a cache home that is a link to a directory of the user's own, but not a link in place of digesta/", async () => {
    await mkdir(join(work, "elsewhere"));
    await symlink(join(work, "elsewhere"), join(work, "linked"));
    expect(cacheDirectory({ XDG_CACHE_HOME: join(work, "linked") })).toBe(join(work, "linked", "digesta", `code-${process.version}-${process.arch}`));
    expect(await readdir(join(work, "elsewhere"))).toEqual(["digesta"]);
    await mkdir(join(work, "other-home"));
    await mkdir(join(work, "planted"), { mode: 0o700 });
    await symlink(join(work, "planted"), join(work, "other-home", "digesta"));
    expect(cacheDirectory({ XDG_CACHE_HOME: join(work, "other-home") })).toBeUndefined();
  });

  it("is none when switched off, without a home, or with a relative one", () => {
    expect(cacheDirectory({ XDG_CACHE_HOME: work, DIGESTA_CODE_CACHE: "off" })).toBeUndefined();
    expect(cacheDirectory({ XDG_CACHE_HOME: work, NODE_DISABLE_COMPILE_CACHE: "1" })).toBeUndefined();
    expect(cacheDirectory({})).toBeUndefined();
    expect(cacheDirectory({ HOME: "relative/home" })).toBeUndefined();
  });

  it("is none when others can write to it, and nothing is made there", async () => {
    await mkdir(join(work, "digesta"), { mode: 0o777 });
    await chmod(join(work, "digesta"), 0o777);
    expect(cacheDirectory({ XDG_CACHE_HOME: work })).toBeUndefined();
    await chmod(join(work, "digesta"), 0o755);
    const dir = cacheDirectory({ XDG_CACHE_HOME: work })!;
    await chmod(dir, 0o770);
    expect(cacheDirectory({ XDG_CACHE_HOME: work })).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)("is none in a directory of another user's, and nothing is made there", async () => {
    const theirs = join(work, "theirs");
    await mkdir(theirs);
    await chown(theirs, 65534, 65534);
    expect(cacheDirectory({ XDG_CACHE_HOME: theirs })).toBeUndefined();
    expect(await readdir(theirs)).toEqual([]);
    await chown(work, 65534, 65534);
    expect(cacheDirectory({ XDG_CACHE_HOME: join(work, "not-yet") })).toBeUndefined();
    expect(await readdir(work)).toEqual(["theirs"]);
  });
});

describe("a run from cached code", () => {
  const program = (word: string) =>
    [
      `const { sep } = require("node:path");`,
      `exports.word = ${JSON.stringify(word)};`,
      `console.log(module.exports.word, __filename.endsWith(sep + "program.cjs"), typeof require("./helper.cjs").helper);`,
    ].join("\n");

  beforeEach(async () => {
    await writeFile(join(work, "helper.cjs"), "exports.helper = () => 1;\n");
  });

  it("runs as require() would, compiled the first time and from the cache after", async () => {
    const file = join(work, "program.cjs");
    await writeFile(file, program("alpha"));
    const dir = join(work, "cache");
    await mkdir(dir, { mode: 0o700 });
    const first = await runThroughCache(file, dir);
    expect(first).toMatchObject({ code: 0, how: "compiled", printed: "alpha true function\n" });
    expect(await readdir(dir)).toEqual([`test-${(await stat(file)).ino}-${(await stat(file)).size}.v8`]);
    const second = await runThroughCache(file, dir);
    expect(second).toMatchObject({ code: 0, how: "cached", printed: "alpha true function\n" });
  });

  it("never runs code compiled from an earlier file of the same length", async () => {
    const file = join(work, "program.cjs");
    const dir = join(work, "cache");
    await mkdir(dir, { mode: 0o700 });
    await writeFile(file, program("alpha"));
    expect((await runThroughCache(file, dir)).how).toBe("compiled");
    await writeFile(file, program("bravo"));
    const after = await runThroughCache(file, dir);
    expect(after).toMatchObject({ code: 0, how: "compiled", printed: "bravo true function\n" });
    expect((await runThroughCache(file, dir)).how).toBe("cached");
  });

  it("keeps a cache for each of two files run in turn, and only the most recent few dozen", async () => {
    const dir = join(work, "cache");
    await mkdir(dir, { mode: 0o700 });
    const [first, second] = [join(work, "program.cjs"), join(work, "other", "program.cjs")];
    await mkdir(join(work, "other"));
    await writeFile(join(work, "other", "helper.cjs"), "exports.helper = () => 2;\n");
    await writeFile(first, program("alpha"));
    await writeFile(second, program("bravo"));
    expect((await runThroughCache(first, dir)).how).toBe("compiled");
    expect((await runThroughCache(second, dir)).how).toBe("compiled");
    expect(await runThroughCache(first, dir)).toMatchObject({ how: "cached", printed: "alpha true function\n" });
    expect(await runThroughCache(second, dir)).toMatchObject({ how: "cached", printed: "bravo true function\n" });
    for (let i = 0; i < 60; i++) await writeFile(join(dir, `stale-${i}-1.v8`), "old");
    await writeFile(first, program("charlie"));
    expect((await runThroughCache(first, dir)).how).toBe("compiled");
    const left = await readdir(dir);
    expect(left).toHaveLength(48);
    expect(left).toContain(`test-${(await stat(first)).ino}-${(await stat(first)).size}.v8`);
  });

  it("compiles again over a cache file that is not V8's, and replaces it", async () => {
    const file = join(work, "program.cjs");
    const dir = join(work, "cache");
    await mkdir(dir, { mode: 0o700 });
    await writeFile(file, program("alpha"));
    await runThroughCache(file, dir);
    const [cacheFile] = await readdir(dir);
    const saved = await readFile(join(dir, cacheFile!));
    const header = saved.subarray(0, saved.indexOf("\n", saved.indexOf("\n") + 1) + 1);
    await writeFile(join(dir, cacheFile!), Buffer.concat([header, Buffer.alloc(4096, 0x41)]));
    expect(await runThroughCache(file, dir)).toMatchObject({ code: 0, how: "compiled", printed: "alpha true function\n" });
    expect(await runThroughCache(file, dir)).toMatchObject({ code: 0, how: "cached" });
  });

  it("throws what the program throws, once, without running it again", async () => {
    const file = join(work, "program.cjs");
    const dir = join(work, "cache");
    await mkdir(dir, { mode: 0o700 });
    await writeFile(file, `console.log("started");\nthrow new Error("the program's own failure");\n`);
    const run = await runThroughCache(file, dir);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("started\n");
    expect(run.stderr).toContain("the program's own failure");
  });

  it("leaves a file it cannot read to the caller, without running anything", async () => {
    const run = await runThroughCache(join(work, "missing.cjs"), join(work, "cache"));
    expect(run).toMatchObject({ code: 0, how: "undefined", printed: "" });
  });
});

describe("digesta from the command line", () => {
  it(`prints the same with its code cached as without (${NODE_KEEPS_ITS_OWN ? "Node's own compile cache" : "kept by digesta"})`, async () => {
    const env = { PATH: process.env["PATH"], HOME: work, XDG_CACHE_HOME: join(work, "cache") };
    const repository = join(work, "repository");
    await mkdir(repository);
    await writeFile(join(repository, "Dockerfile"), `FROM registry.example/app:1@sha256:${"a".repeat(64)}\n`);
    const cli = (...args: string[]) => runProcess(process.execPath, [join(ROOT, "bin", "digesta.js"), ...args], { cwd: repository, env });
    const uncached = await runProcess(process.execPath, [join(ROOT, "bin", "digesta.js"), "scan", "."], { cwd: repository, env: { ...env, DIGESTA_CODE_CACHE: "off" } });
    const runs = [await cli("scan", "."), await cli("scan", "."), await cli("--version")];
    for (const run of runs.slice(0, 2)) expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({ code: 0, stdout: uncached.stdout, stderr: uncached.stderr });
    expect(runs[2]!.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const dir = join(work, "cache", "digesta", `code-${process.version}-${process.arch}`);
    const bundle = await stat(join(ROOT, "dist", "bundle", "digesta.cjs"));
    expect((await readdir(dir)).sort()).toEqual(NODE_KEEPS_ITS_OWN ? ["node"] : [`other-${bundle.ino}-${bundle.size}.v8`, `scan-${bundle.ino}-${bundle.size}.v8`]);
  });
});
