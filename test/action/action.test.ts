import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { GitHubFake } from "../support/github-fake.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { runProcess } from "../support/process.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

// The committed Action bundle, started as the Actions runner starts a node24 action: `node dist-action/index.js` with
// the inputs in INPUT_* variables, the workflow's context in GITHUB_*, and outputs read back from the GITHUB_OUTPUT
// file; against the GitHub fake served on loopback and a real registry.

const BUNDLE = resolve(import.meta.dirname, "../../dist-action/index.js");
const TOKEN = "ghs_action_token";

interface ActionRun {
  readonly code: number | null;
  /** Set when the process had to be killed: it did not end by itself. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
}

/** Reads `name<<DELIMITER` … `DELIMITER` blocks, as the runner does. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!head) continue;
    const end = lines.indexOf(head[2]!, i + 1);
    outputs[head[1]!] = lines.slice(i + 1, end).join("\n");
    i = end;
  }
  return outputs;
}

describe("the GitHub Action", () => {
  let reg: TestRegistry;
  let build: { before: PushedBuild; after: PushedBuild };
  let fake: GitHubFake;
  let api: { url: string; close(): Promise<void> };
  let work: string;

  beforeAll(async () => {
    reg = await startRegistry();
    build = await movingTag(reg, "team/tool", "2");
  });
  afterAll(() => reg.stop());
  beforeEach(async () => {
    fake = new GitHubFake();
    fake.addToken(TOKEN);
    api = await fake.listen();
    work = await mkdtemp(join(tmpdir(), "digesta-action-"));
  });
  afterEach(async () => {
    await api.close();
    await rm(work, { recursive: true, force: true });
  });

  const pinned = (digest: string) => `image: ${reg.host}/team/tool:2@${digest}\n`;

  async function runAction(inputs: Record<string, string>): Promise<ActionRun> {
    const outputFile = join(work, "output");
    const summaryFile = join(work, "summary");
    await writeFile(outputFile, "");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: work,
      // action.yml's defaults, as the runner fills them in, then the step's `with:`.
      INPUT_TOKEN: TOKEN,
      INPUT_REPOSITORY: "someone/tools",
      "INPUT_DRY-RUN": "false",
      INPUT_CONFIG: ".github/digesta.yml",
      "INPUT_LOG-LEVEL": "info",
      ...Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])),
      GITHUB_REPOSITORY: "someone/tools",
      GITHUB_API_URL: api.url,
      GITHUB_SERVER_URL: "https://github.example",
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      RUNNER_TEMP: work,
      // The operator's word that the loopback test registry may be reached (as for the app).
      DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host,
    };
    // The runner waits for the process to end: one that does not end by itself is killed here, generously late.
    const { code, signal, stdout, stderr } = await runProcess(process.execPath, [BUNDLE], { cwd: work, env, killAfterMs: 50_000 });
    const summary = await readFile(summaryFile, "utf8").catch(() => "");
    return { code, signal, stdout: stdout + stderr, outputs: parseOutputs(await readFile(outputFile, "utf8")), summary };
  }

  it("opens the pull request and writes its URL and the counts as outputs", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest), "fresh.yaml": `image: ${reg.host}/team/tool:2@${build.after.digest}\n` }, { installationId: 1 });

    const run = await runAction({});

    expect(run.code, run.stdout).toBe(0);
    const [pull] = fake.pulls("someone", "tools");
    expect(pull).toMatchObject({ state: "open", head: ALL_BRANCH });
    expect(fake.files("someone", "tools", ALL_BRANCH)["deploy.yaml"]).toBe(pinned(build.after.digest));
    expect(run.outputs).toEqual({
      "pull-request-url": `https://github.example/someone/tools/pull/${pull!.number}`,
      "pull-request-urls": `https://github.example/someone/tools/pull/${pull!.number}`,
      updated: "1",
      failed: "0",
      "up-to-date": "1",
    });
    expect(run.summary).toContain(`https://github.example/someone/tools/pull/${pull!.number}`);
    expect(run.stdout).not.toContain(TOKEN);
  });

  it("writes nothing to GitHub on a dry run, and still counts", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
    const run = await runAction({ "dry-run": "true" });
    expect(run.code, run.stdout).toBe(0);
    expect(fake.pulls("someone", "tools")).toEqual([]);
    expect(fake.writes()).toEqual([]);
    expect(run.outputs).toMatchObject({ "pull-request-url": "", updated: "1", failed: "0" });
    expect(run.summary).toContain("dry run");
  });

  it("reads the configuration from the path given", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest), "ci/digesta.yml": "enabled: false\n" }, { installationId: 1 });
    const run = await runAction({ config: "ci/digesta.yml" });
    expect(run.code, run.stdout).toBe(0);
    expect(fake.pulls("someone", "tools")).toEqual([]);
    expect(run.outputs).toMatchObject({ updated: "0", "pull-request-url": "" });
    expect(run.summary).toContain("enabled: false");
  });

  it("fails the step on an image that could not be checked, after proposing the others", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest), "gone.yaml": `image: 127.0.0.1:9/nothing/here:1@${build.before.digest}\n` }, { installationId: 1 });
    const run = await runAction({});
    expect(run.code).toBe(1);
    expect(fake.pulls("someone", "tools")).toHaveLength(1);
    expect(run.outputs).toMatchObject({ updated: "1", failed: "1" });
    expect(run.stdout).toMatch(/^::warning::1 image\(s\) could not be checked/m);
  });

  it("ends its process by itself once the run is over, whatever answers the registries gave", async () => {
    // A stale pin (pull request, image diff reading blobs), a fresh one, a tag the registry does not have (404 with a
    // body) and a registry nothing listens on: no answer read in part or not at all may keep a connection open.
    fake.createRepository(
      "someone",
      "tools",
      {
        "deploy.yaml": pinned(build.before.digest),
        "fresh.yaml": `image: ${reg.host}/team/tool:2@${build.after.digest}\n`,
        "missing.yaml": `image: ${reg.host}/team/tool:no-such-tag@${build.before.digest}\n`,
        "gone.yaml": `image: 127.0.0.1:9/nothing/here:1@${build.before.digest}\n`,
      },
      { installationId: 1 },
    );
    const run = await runAction({});
    expect(run.signal, `the Action's process did not end by itself:\n${run.stdout}`).toBeNull();
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ updated: "1", failed: "1", "up-to-date": "1" });
    // The missing tag is "vanished" (its pin stays), not "could not be checked".
    expect(run.stdout).toMatch(/"failed":1,"vanished":1,"msg":"repository refreshed"/);
  });

  it("stops on a wrong input with one error annotation and touches nothing", async () => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
    const run = await runAction({ repository: "someone/tools\n::set-output name=updated::9", "dry-run": "maybe" });
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split("\n")).toEqual([expect.stringMatching(/^::error::input repository is "someone\/tools%0A::set-output/)]);
    expect(fake.requests).toEqual([]);
    expect(run.outputs).toEqual({});
  });
});
