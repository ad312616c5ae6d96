// The digesta command end to end: a checkout on disk, a real registry on loopback whose tags move.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MULTI_ARCH, movingTag, pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";

let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let fresh: PushedBuild;
let dir: string;
const previousDockerConfig = process.env["DOCKER_CONFIG"];

const files = () => {
  const armBefore = app.before.platforms["linux/arm64"]!;
  return {
    "deploy/app.yaml":
      `# app\r\nspec:\r\n  containers:\r\n    - image: "${reg.host}/cli/app:1@${app.before.digest}"\r\n` +
      `    - image: ${reg.host}/cli/fresh:stable@${fresh.digest}\r\n    - image: ${reg.host}/cli/app@${app.before.digest}`,
    Dockerfile: `# syntax=docker/dockerfile:1\nFROM --platform=linux/arm64 ${reg.host}/cli/app:1@${armBefore} AS build\nCOPY --from=${reg.host}/cli/app:1@${app.before.digest} /a /b\n`,
    "README.md": "nothing pinned here\n",
  };
};

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-cli-test";
  reg = await startRegistry();
  app = await movingTag(reg, "cli/app", "1", { platforms: MULTI_ARCH });
  fresh = await pushBuild(reg, "cli/fresh", "stable");
  dir = await mkdtemp(path.join(tmpdir(), "digesta-cli-"));
  for (const [name, text] of Object.entries(files())) {
    await import("node:fs/promises").then((fs) => fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true }));
    await writeFile(path.join(dir, name), text);
  }
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("digesta scan", () => {
  it("lists every pinned reference with its place, as JSON", async () => {
    const run = await runCli("scan", dir, "--json");
    expect(run.code).toBe(0);
    const candidates = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(candidates).toHaveLength(4);
    expect(candidates[0]).toEqual({
      path: "Dockerfile",
      line: 2,
      column: 29,
      reference: `${reg.host}/cli/app:1@${app.before.platforms["linux/arm64"]}`,
      registry: reg.host,
      repository: "cli/app",
      tag: "1",
      digest: app.before.platforms["linux/arm64"],
    });
    expect(candidates.map((c) => `${c["path"]}:${c["line"]}`)).toEqual(["Dockerfile:2", "Dockerfile:3", "deploy/app.yaml:4", "deploy/app.yaml:5"]);
  });

  it("says on stderr which references it skipped and why", async () => {
    const run = await runCli("scan", dir);
    expect(run.stdout.trim().split("\n")).toHaveLength(4);
    expect(run.stderr).toMatch(/skipped deploy\/app\.yaml:6:\d+ .*no tag to follow/);
  });
});

describe("digesta check and update", () => {
  it("check exits 1 while a pin is stale, and names it", async () => {
    const run = await runCli("check", dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`stale\\t${reg.host}/cli/app:1`));
    expect(run.stdout).toMatch(new RegExp(`up to date\\t${reg.host}/cli/fresh:stable`));
  });

  it("update --dry-run reports the moves and writes nothing", async () => {
    const before = await readFile(path.join(dir, "deploy/app.yaml"));
    const run = await runCli("update", dir, "--dry-run", "--no-diff");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("would update");
    expect((await readFile(path.join(dir, "deploy/app.yaml"))).equals(before)).toBe(true);
  });

  it("update --dry-run shows the package diff of each image it would move", async () => {
    const run = await runCli("update", dir, "--dry-run");
    expect(run.code).toBe(0);
    const hex = (digest: string) => digest.slice(7, 19);
    expect(run.stdout).toContain(`${reg.host}/cli/app:1  ${hex(app.before.digest)} -> ${hex(app.after.digest)}`);
    const arm = app.before.platforms["linux/arm64"]!;
    expect(run.stdout).toContain(`${reg.host}/cli/app:1  ${hex(arm)} -> ${hex(app.after.platforms["linux/arm64"]!)}  linux/arm64`);
  });

  it("update moves index pins to the new index and platform pins to the same platform, changing nothing else", async () => {
    const run = await runCli("update", dir, "--json", "--no-diff");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { updated: { kind: string; platform?: string; to: string }[]; files: { ok: boolean }[] };
    expect(result.updated.map((u) => [u.kind, u.platform ?? null, u.to]).sort()).toEqual(
      [
        ["index", null, app.after.digest],
        ["manifest", "linux/arm64", app.after.platforms["linux/arm64"]],
      ].sort(),
    );
    expect(result.files.every((f) => f.ok)).toBe(true);

    const expected = files();
    const moved = (text: string) =>
      text
        .replaceAll(`app:1@${app.before.digest}`, `app:1@${app.after.digest}`)
        .replaceAll(app.before.platforms["linux/arm64"]!, app.after.platforms["linux/arm64"]!);
    expect(await readFile(path.join(dir, "deploy/app.yaml"), "utf8")).toBe(moved(expected["deploy/app.yaml"]));
    expect(await readFile(path.join(dir, "Dockerfile"), "utf8")).toBe(moved(expected.Dockerfile));
    // The digest-only reference is never followed.
    expect(await readFile(path.join(dir, "deploy/app.yaml"), "utf8")).toContain(`cli/app@${app.before.digest}`);

    const check = await runCli("check", dir);
    expect(check.code).toBe(0);
  });
});

describe("digesta resolve, history and diff", () => {
  it("resolve prints what the tag points to now", async () => {
    const run = await runCli("resolve", `${reg.host}/cli/app:1`);
    expect(run).toMatchObject({ code: 0, stdout: `${app.after.digest}\n` });
  });

  it("diff compares a pin with its tag's current build", async () => {
    const run = await runCli("diff", `${reg.host}/cli/app:1@${app.before.platforms["linux/arm64"]}`, "--json");
    expect(run.code).toBe(0);
    const diff = JSON.parse(run.stdout) as { from: string; to: string; packages: object; warnings: string[] };
    expect(diff.from).toBe(app.before.platforms["linux/arm64"]);
    expect(diff.to).toBe(app.after.platforms["linux/arm64"]);
    // The test builds hold no package database: nothing to list, and a warning for each side saying so.
    expect(diff.packages).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.warnings).toEqual([
      expect.stringMatching(/^old image sha256:[0-9a-f]{12}…: no package database/),
      expect.stringMatching(/^new image sha256:[0-9a-f]{12}…: no package database/),
    ]);
  });

  it("resolve --platform prints the digest of that platform's image in the tag's index", async () => {
    const arm = await runCli("resolve", `${reg.host}/cli/app:1`, "--platform", "linux/arm64");
    expect(arm).toMatchObject({ code: 0, stdout: `${app.after.platforms["linux/arm64"]}\n` });
    const json = await runCli("resolve", `${reg.host}/cli/app:1`, "--platform", "linux/arm/v7", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ digest: app.after.platforms["linux/arm/v7"], platform: "linux/arm/v7", index: app.after.digest });

    const missing = await runCli("resolve", `${reg.host}/cli/app:1`, "--platform", "windows/amd64");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^digesta: .*has no windows\/amd64 image; it has linux\/amd64, linux\/arm64, linux\/arm\/v7\n$/);
    // A single-platform image answers for its own platform only.
    expect(await runCli("resolve", `${reg.host}/cli/fresh:stable`, "--platform", "linux/amd64")).toMatchObject({ code: 0, stdout: `${fresh.digest}\n` });
    const single = await runCli("resolve", `${reg.host}/cli/fresh:stable`, "--platform", "linux/arm64");
    expect(single.code).toBe(2);
    expect(single.stderr).toMatch(/is a single linux\/amd64 image, not linux\/arm64/);
  });

  it("ls lists a repository's tags, and refuses a tag or digest", async () => {
    const run = await runCli("ls", `${reg.host}/cli/app`);
    expect(run).toMatchObject({ code: 0, stdout: "1\n" });
    expect(JSON.parse((await runCli("ls", `${reg.host}/cli/fresh`, "--json")).stdout)).toEqual(["stable"]);
    const tagged = await runCli("ls", `${reg.host}/cli/app:1`);
    expect(tagged.code).toBe(2);
    expect(tagged.stderr).toMatch(/^digesta: ".*cli\/app:1" names a tag or digest/);
  });

  it("diff exits 2 when a side could not be read, and still says what it could", async () => {
    const gone = `sha256:${"0".repeat(64)}`;
    const run = await runCli("diff", `${reg.host}/cli/app@${gone}`, `${reg.host}/cli/app@${app.after.digest}`, "--json");
    expect(run.code).toBe(2);
    const diff = JSON.parse(run.stdout) as { unreadable: string[]; warnings: string[] };
    expect(diff.unreadable).toEqual(["old"]);
    expect(diff.warnings).toEqual([expect.stringMatching(/^could not read the old image sha256:000000000000/)]);
    const text = await runCli("diff", `${reg.host}/cli/app@${gone}`, `${reg.host}/cli/app@${app.after.digest}`);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("could not read the old image");
  });

  it("history on a registry without tag history fails with one line", async () => {
    const run = await runCli("history", `${reg.host}/cli/app:1`);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^digesta: .*no tag history/);
  });
});

describe("bad input", () => {
  it.each([
    [["scan", "/nonexistent/digesta"], /^digesta: .*\/nonexistent\/digesta/],
    [["resolve", "Not/A:Ref!"], /^digesta: invalid reference/],
    [["resolve", "cli/app@sha256:abc"], /^digesta: /],
    [["update", ".", "--before", "yesterday-ish"], /^digesta: --before "yesterday-ish" is not a time/],
    [["diff", "nginx:1"], /^digesta: "nginx:1" has no digest/],
    [["frobnicate"], /unknown command/],
    [["github", "--repo", "not a repo"], /^digesta: --repo "not a repo" is not OWNER\/NAME/],
    [["github", "--repo", "octo/app"], /^digesta: GITHUB_TOKEN is not set/],
  ])("digesta %j gets a one-line error and exit 2", async (argv, message) => {
    const token = process.env["GITHUB_TOKEN"];
    delete process.env["GITHUB_TOKEN"];
    const run = await runCli(...argv).finally(() => {
      if (token !== undefined) process.env["GITHUB_TOKEN"] = token;
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unreachable registry fails that image with its reason, not the run", async () => {
    const bad = await mkdtemp(path.join(tmpdir(), "digesta-cli-bad-"));
    await writeFile(path.join(bad, "a.yaml"), `a: 127.0.0.1:9/x/y:1@${app.before.digest}\nb: ${reg.host}/cli/fresh:stable@${fresh.digest}\n`);
    const run = await runCli("check", bad);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/failed\t127\.0\.0\.1:9\/x\/y:1\t.+/);
    expect(run.stdout).toMatch(/up to date\t.*cli\/fresh:stable/);
    await rm(bad, { recursive: true, force: true });
  });
});
