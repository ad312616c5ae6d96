// `digesta pin` and `check --unpinned` end to end: a checkout on disk and a real registry on loopback.
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createUnpinnedCollector, resolveTags, writePins } from "../../src/engine/pin.js";
import { scanDirectory } from "../../src/scan/directory.js";
import { planPins } from "../../src/pin/plan.js";
import { createRegistryClient } from "../../src/registry/client.js";
import { MULTI_ARCH, pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";

let reg: TestRegistry;
let multi: PushedBuild;
let single: PushedBuild;
let dir: string;
const previousDockerConfig = process.env["DOCKER_CONFIG"];

/** The tree every test starts from: CRLF, tabs, quotes, no final newline, things to leave alone. */
const files = () => ({
  Dockerfile:
    `# syntax=${reg.host}/pin/multi:1\n` +
    `FROM --platform=$BUILDPLATFORM ${reg.host}/pin/multi:1 AS build\n` +
    `COPY --from=build /a /b\nCOPY --from=${reg.host}/pin/single:2 /c /d\nFROM scratch\nFROM \${BASE}\n`,
  "deploy/app.yaml": `spec:\r\n  containers:\r\n    - image: "${reg.host}/pin/single:2"\r\n    - image: ${reg.host}/pin/multi:1\t# web\r\n    - image: nginx`,
  ".github/workflows/ci.yml": `jobs:\n  t:\n    container: ${reg.host}/pin/single:2\n    steps:\n      - uses: docker://${reg.host}/pin/missing:3\n`,
  "README.md": `FROM ${reg.host}/pin/multi:1\n`,
});

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-pin-test";
  reg = await startRegistry();
  multi = await pushBuild(reg, "pin/multi", "1", { platforms: MULTI_ARCH });
  single = await pushBuild(reg, "pin/single", "2");
});

beforeEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(path.join(tmpdir(), "digesta-pin-"));
  for (const [name, text] of Object.entries(files())) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const read = (name: string) => readFile(path.join(dir, name), "utf8");

describe("digesta pin", () => {
  it("appends each tag's digest (the index for a multi-platform tag), changes no other byte, and says which lookups failed", async () => {
    const run = await runCli("pin", dir);
    expect(run.code).toBe(2);
    const m = multi.digest;
    const s = single.digest;
    expect(await read("Dockerfile")).toBe(
      `# syntax=${reg.host}/pin/multi:1@${m}\n` +
        `FROM --platform=$BUILDPLATFORM ${reg.host}/pin/multi:1@${m} AS build\n` +
        `COPY --from=build /a /b\nCOPY --from=${reg.host}/pin/single:2@${s} /c /d\nFROM scratch\nFROM \${BASE}\n`,
    );
    expect(await read("deploy/app.yaml")).toBe(
      `spec:\r\n  containers:\r\n    - image: "${reg.host}/pin/single:2@${s}"\r\n    - image: ${reg.host}/pin/multi:1@${m}\t# web\r\n    - image: nginx`,
    );
    expect(await read(".github/workflows/ci.yml")).toBe(
      `jobs:\n  t:\n    container: ${reg.host}/pin/single:2@${s}\n    steps:\n      - uses: docker://${reg.host}/pin/missing:3\n`,
    );
    expect(await read("README.md")).toBe(files()["README.md"]);
    expect(run.stdout).toContain(`pinned\t${reg.host}/pin/multi:1@${m}\tDockerfile:1, Dockerfile:2, deploy/app.yaml:4\n`);
    expect(run.stdout).toMatch(new RegExp(`failed\\t${reg.host}/pin/missing:3\\t.*`));
    expect(run.stderr).toContain('skipped Dockerfile:6:6 "${BASE}": built from a variable');
    expect(run.stderr).toContain('skipped deploy/app.yaml:5:14 "nginx": no tag');

    // Everything pinnable is now pinned: a second run finds only the failed lookup again.
    const again = await runCli("pin", dir, "--json");
    const result = JSON.parse(again.stdout) as { pinned: unknown[]; failed: { image: string }[] };
    expect(result.pinned).toEqual([]);
    expect(result.failed.map((f) => f.image)).toEqual([`${reg.host}/pin/missing`]);
  });

  it("exits 0 when everything it could pin is pinned", async () => {
    await writeFile(path.join(dir, ".github/workflows/ci.yml"), "on: push\n");
    expect((await runCli("pin", dir)).code).toBe(0);
    expect((await runCli("check", "--unpinned", dir)).code).toBe(0);
  });

  it("--platform pins that platform's image, not the index", async () => {
    const run = await runCli("pin", "--platform", "linux/arm64", "--include", "Dockerfile", dir);
    const arm = multi.platforms["linux/arm64"]!;
    expect(await read("Dockerfile")).toContain(`FROM --platform=$BUILDPLATFORM ${reg.host}/pin/multi:1@${arm} AS build\n`);
    // A single-platform amd64 tag has no arm64 image: it is a failed lookup, not a wrong pin.
    expect(run.code).toBe(2);
    expect(await read("Dockerfile")).toContain(`COPY --from=${reg.host}/pin/single:2 /c /d\n`);
  });

  it("--platform refuses a single-platform tag of another platform", async () => {
    const run = await runCli("pin", "--platform", "linux/arm64", "--include", "deploy/**", dir);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/failed\t.*pin\/single:2\t.*linux\/amd64 image, not linux\/arm64/);
    expect(await read("deploy/app.yaml")).not.toContain("pin/single:2@");
  });

  it("--dry-run writes nothing; --json says what it would pin, where, and by which syntax", async () => {
    const run = await runCli("pin", "--dry-run", "--json", dir);
    expect(run.code).toBe(2);
    for (const [name, text] of Object.entries(files())) expect(await read(name)).toBe(text);
    const result = JSON.parse(run.stdout) as {
      dryRun: boolean;
      pinned: { image: string; tag: string; digest: string; kind: string; occurrences: { path: string; line: number; syntax: string }[] }[];
      skipped: { path: string; reason: string }[];
    };
    expect(result.dryRun).toBe(true);
    expect(result.pinned.map((p) => [p.image, p.digest, p.kind])).toEqual([
      [`${reg.host}/pin/multi`, multi.digest, "index"],
      [`${reg.host}/pin/single`, single.digest, "manifest"],
    ]);
    expect(result.pinned[1]!.occurrences.map((o) => `${o.path}:${o.line}:${o.syntax}`)).toEqual([
      ".github/workflows/ci.yml:3:workflow-container",
      "Dockerfile:4:dockerfile-copy-from",
      "deploy/app.yaml:3:yaml-image",
    ]);
    expect(result.skipped.map((s) => s.path)).toEqual(["Dockerfile", "deploy/app.yaml"]);
  });

  it("leaves alone what the configuration ignores, and reads only its paths", async () => {
    await mkdir(path.join(dir, ".github"), { recursive: true });
    await writeFile(path.join(dir, ".github/digesta.yml"), `ignore:\n  - "${reg.host}/pin/multi"\npaths:\n  exclude: [".github/workflows/**"]\n`);
    const run = await runCli("pin", dir);
    expect(run.code).toBe(0);
    expect(await read("Dockerfile")).toContain(`FROM --platform=$BUILDPLATFORM ${reg.host}/pin/multi:1 AS build\n`);
    expect(await read("Dockerfile")).toContain(`${reg.host}/pin/single:2@${single.digest}`);
    expect(run.stderr).toMatch(/skipped Dockerfile:2:32 .*ignored by configuration/);
    expect(await read(".github/workflows/ci.yml")).toBe(files()[".github/workflows/ci.yml"]);
  });

  it("leaves a file alone that changed between the scan and the write", async () => {
    const registry = createRegistryClient();
    const collector = createUnpinnedCollector();
    await scanDirectory(dir, { onTextFile: collector.onTextFile });
    const scan = collector.result();
    const plan = planPins(scan, await resolveTags(scan.unpinned, registry));
    // A change elsewhere in the file, the reference itself untouched.
    const changed = `${files()["deploy/app.yaml"]}\r\n    - image: busybox:1`;
    await writeFile(path.join(dir, "deploy/app.yaml"), changed);
    const results = await writePins(dir, plan, scan.fileDigests);
    expect(results.find((r) => r.path === "deploy/app.yaml")).toMatchObject({ ok: false, error: expect.stringMatching(/changed since it was scanned/) });
    expect(await read("deploy/app.yaml")).toBe(changed);
    expect(results.find((r) => r.path === "Dockerfile")).toMatchObject({ ok: true });
  });
});

describe("digesta check --unpinned", () => {
  it("exits 1 and names each tagged reference without a digest; plain check does not look for them", async () => {
    expect((await runCli("check", dir)).code).toBe(0);
    const run = await runCli("check", "--unpinned", dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`unpinned\tDockerfile:2:32\t${reg.host}/pin/multi:1\n`);
    expect(run.stdout).toContain(`unpinned\t.github/workflows/ci.yml:5:24\t${reg.host}/pin/missing:3\n`);
    expect(run.stdout.match(/^unpinned\t/gm)).toHaveLength(7);
    const json = JSON.parse((await runCli("check", "--unpinned", "--json", dir)).stdout) as { unpinned: unknown[]; unpinnable: unknown[] };
    expect(json.unpinned).toHaveLength(7);
    expect(json.unpinnable).toHaveLength(2);
  });
});
