// The CLI and the app agree: `scan`, `update` and `check` read the checkout's .github/digesta.yml, honour
// `digesta:ignore` comments, read include globs as .gitignore does, and never give a false green.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file, layer, movingTag, MULTI_ARCH, pushBuild, pushImage, type PushedBuild, type PushedImage } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";

let reg: TestRegistry;
let app: { before: PushedBuild; after: PushedBuild };
let tool: { before: PushedBuild; after: PushedBuild };
let young: { before: PushedImage; after: PushedImage };
let fresh: PushedBuild;
let multi: { before: PushedBuild; after: PushedBuild };
const roots: string[] = [];
const previousDockerConfig = process.env["DOCKER_CONFIG"];

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-cli-test";
  reg = await startRegistry();
  app = await movingTag(reg, "conf/app", "1");
  tool = await movingTag(reg, "conf/tool", "1");
  fresh = await pushBuild(reg, "conf/fresh", "stable");
  multi = await movingTag(reg, "conf/multi", "1", { platforms: MULTI_ARCH });
  // A tag moved to an image built a moment ago: a cooldown holds it back.
  const built = async (generation: number, created: string) =>
    pushImage(reg, "conf/young", { layers: [await layer([file("etc/generation", `${generation}\n`)])], created }, "1");
  young = { before: await built(1, "2024-01-01T00:00:00Z"), after: await built(2, new Date().toISOString()) };
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "digesta-checkout-"));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
  return root;
}

const appPin = () => `${reg.host}/conf/app:1@${app.before.digest}`;
const toolPin = () => `${reg.host}/conf/tool:1@${tool.before.digest}`;
const freshPin = () => `${reg.host}/conf/fresh:stable@${fresh.digest}`;

describe(".github/digesta.yml on the command line", () => {
  it("check leaves alone what the configuration ignores and scans only its paths, as the app would", async () => {
    const root = await tree({
      ".github/digesta.yml": `paths:\n  include: ["deploy/**"]\nignore:\n  - "${reg.host}/conf/tool"\n`,
      "deploy/app.yaml": `a: ${freshPin()}\nb: ${toolPin()}\n`,
      "elsewhere/app.yaml": `a: ${appPin()}\n`,
    });
    const run = await runCli("check", root, "--json");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { updated: unknown[]; upToDate: { image: string }[]; skipped: { reason: string }[] };
    expect(result.updated).toEqual([]);
    expect(result.upToDate.map((p) => p.image)).toEqual([`${reg.host}/conf/fresh`]);
    expect(result.skipped.map((s) => s.reason)).toEqual([`ignored by configuration (\`${reg.host}/conf/tool\`)`]);

    // --no-config: every file, nothing ignored.
    const all = await runCli("check", root, "--no-config");
    expect(all.code).toBe(1);
    expect(all.stdout).toContain(`stale\t${reg.host}/conf/app:1`);
    expect(all.stdout).toContain(`stale\t${reg.host}/conf/tool:1`);

    // --include replaces paths.include; --exclude adds to paths.exclude.
    const flagged = await runCli("check", root, "--include", "elsewhere/**");
    expect(flagged.code).toBe(1);
    expect(flagged.stdout).toContain(`stale\t${reg.host}/conf/app:1`);
    expect(flagged.stdout).not.toContain("conf/tool");
  });

  it("--config FILE is read instead of the checkout's, and a missing one is an error", async () => {
    const root = await tree({ "a.yaml": `a: ${appPin()}\nb: ${toolPin()}\n` });
    const config = path.join(root, "..", `${path.basename(root)}-digesta.yml`);
    roots.push(config);
    await writeFile(config, `ignore: ["${reg.host}/conf/*"]\n`);
    const run = await runCli("check", root, "--config", config);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");

    const missing = await runCli("check", root, "--config", path.join(root, "nope.yml"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^digesta: the configuration is not valid:\n {2}.*nope\.yml: no such file\n$/);
  });

  it("a broken configuration stops the run with each problem on its line, and writes nothing", async () => {
    const text = `a: ${appPin()}\n`;
    const root = await tree({
      ".github/digesta.yml": "enabled: true\npaths:\n  include:\n    - ../escape\ncooldown: soon\n",
      "a.yaml": text,
    });
    const run = await runCli("update", root);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^digesta: the configuration is not valid \(fix it, or run with --no-config\):\n/);
    expect(run.stderr).toMatch(/\.github\/digesta\.yml:4: paths\.include\[0\]: must be a relative glob/);
    expect(run.stderr).toMatch(/\.github\/digesta\.yml:5: cooldown: must be a duration/);
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(text);

    const yaml = await tree({ ".github/digesta.yml": "paths: [unclosed\n", "a.yaml": text });
    const broken = await runCli("check", yaml);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/\.github\/digesta\.yml:\d+: invalid YAML/);
  });

  it("enabled: false turns check and update off, as it does the app", async () => {
    const text = `a: ${appPin()}\n`;
    const root = await tree({ ".github/digesta.yml": "enabled: false\n", "a.yaml": text });
    const check = await runCli("check", root);
    expect(check).toMatchObject({ code: 0, stdout: "" });
    expect(check.stderr).toMatch(/turned off .*enabled: false/);
    expect((await runCli("update", root)).code).toBe(0);
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(text);
  });

  it("the cooldown holds back a digest younger than it, and _extends is named as the app's alone", async () => {
    const root = await tree({
      ".github/digesta.yml": "_extends: .github\ncooldown: 3d\n",
      "a.yaml": `young: ${reg.host}/conf/young:1@${young.before.digest}\nold: ${appPin()}\n`,
    });
    const run = await runCli("check", root, "--json");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/note: \.github\/digesta\.yml: _extends is followed by the app only/);
    const result = JSON.parse(run.stdout) as { updated: { image: string }[]; skipped: { reference: string; reason: string }[] };
    // The old image moved to a 2024 build, past any cooldown; the young one waits.
    expect(result.updated.map((u) => u.image)).toEqual([`${reg.host}/conf/app`]);
    expect(result.skipped).toEqual([
      expect.objectContaining({ reference: `${reg.host}/conf/young:1@${young.before.digest}`, reason: expect.stringMatching(/^cooldown: the new digest was built /) }),
    ]);
  });

  it("diff.platform is the default platform of update's package diff", async () => {
    const root = await tree({ ".github/digesta.yml": "diff:\n  platform: linux/arm64\n", "a.yaml": `a: ${reg.host}/conf/multi:1@${multi.before.digest}\n` });
    const platformOf = async (...flags: string[]) => {
      const run = await runCli("update", root, "--dry-run", "--json", ...flags);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as { diffs: { platform?: unknown }[] };
      expect(result.diffs).toHaveLength(1);
      return result.diffs[0]!.platform;
    };
    expect(await platformOf()).toEqual({ os: "linux", architecture: "arm64" });
    expect(await platformOf("--platform", "linux/arm/v7")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
    expect(await platformOf("--no-config")).toEqual({ os: "linux", architecture: "amd64" });
  });
});

describe("a digesta:ignore comment", () => {
  it("leaves its line's pin alone in check and update, and says so", async () => {
    const text = `# pinned on purpose: tested only on this build\nkeep: ${appPin()}  # digesta:ignore\nmove: ${toolPin()}\n`;
    const root = await tree({ "a.yaml": text, "main.tf": `image = "${appPin()}" // digesta:ignore\n` });
    const check = await runCli("check", root);
    expect(check.code).toBe(1);
    expect(check.stdout).not.toContain("conf/app");
    expect(check.stdout).toContain(`stale\t${reg.host}/conf/tool:1`);
    expect(check.stderr).toContain(`skipped a.yaml:2:7 ${appPin()}: ignored by a digesta:ignore comment on its line`);
    expect(check.stderr).toContain(`skipped main.tf:1:10 ${appPin()}: ignored by a digesta:ignore comment on its line`);

    expect((await runCli("update", root, "--no-diff")).code).toBe(0);
    expect(await readFile(path.join(root, "a.yaml"), "utf8")).toBe(text.replace(tool.before.digest, tool.after.digest));
    expect(await readFile(path.join(root, "main.tf"), "utf8")).toContain(app.before.digest);
  });
});

describe("no false green", () => {
  it("--include '*.yaml' matches at any depth", async () => {
    const root = await tree({ "deploy/prod/app.yaml": `a: ${appPin()}\n`, "top.yml": `a: ${toolPin()}\n` });
    const run = await runCli("check", root, "--include", "*.yaml");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`stale\t${reg.host}/conf/app:1`);
    expect(run.stdout).not.toContain("conf/tool");
    expect(run.stderr).toContain("1 pinned reference(s) in 1 file(s)");
  });

  it("an include that matches no file is a warning, and check exits 2, not 0", async () => {
    const root = await tree({ "app.yaml": `a: ${freshPin()}\n` });
    const run = await runCli("check", root, "--include", "*.yml");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('warning: --include "*.yml" matched no file');
    const scan = await runCli("scan", root, "--include", "*.yaml", "--include", "charts/**", "--json");
    expect(scan.code).toBe(2);
    expect(JSON.parse(scan.stdout)).toHaveLength(1);
    expect(scan.stderr).toContain('warning: --include "charts/**" matched no file');

    const configured = await tree({ ".github/digesta.yml": "paths:\n  include: [k8s/**]\n", "app.yaml": `a: ${freshPin()}\n` });
    const fromConfig = await runCli("check", configured);
    expect(fromConfig.code).toBe(2);
    expect(fromConfig.stderr).toContain('warning: paths.include in .github/digesta.yml "k8s/**" matched no file');
  });

  it("a directory with no file to scan is a warning, and check exits 2", async () => {
    const root = await tree({});
    await mkdir(path.join(root, "node_modules", "x"), { recursive: true });
    await writeFile(path.join(root, "node_modules", "x", "a.yaml"), `a: ${appPin()}\n`);
    const run = await runCli("check", root);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`warning: no file to scan in ${JSON.stringify(root)}`);
  });

  it("a stale pin beside an unreachable image: both reported, exit 2", async () => {
    const root = await tree({ "a.yaml": `a: 127.0.0.1:9/x/y:1@${app.before.digest}\nb: ${appPin()}\n` });
    const run = await runCli("check", root);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`stale\t${reg.host}/conf/app:1`);
    expect(run.stdout).toMatch(/failed\t127\.0\.0\.1:9\/x\/y:1\t.+/);
  });
});
