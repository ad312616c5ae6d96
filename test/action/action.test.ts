import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { GitHubFake } from "../support/github-fake.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { ACTION_TOKEN, runActionStep, type ActionRun } from "./harness.js";

// The Action's bundle as the runner starts it (see harness.ts), against the GitHub fake served on loopback and a real
// registry.

const TOKEN = ACTION_TOKEN;

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

  const runAction = (inputs: Record<string, string>): Promise<ActionRun> =>
    // The operator's word that the loopback test registry may be reached (as for the app).
    runActionStep({ api: api.url, work, inputs, env: { DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host } });

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
    // Which image, and why, where the workflow's run shows it.
    expect(run.stdout).toMatch(/^::warning::127\.0\.0\.1:9\/nothing\/here:1 could not be checked: refusing to contact 127\.0\.0\.1:9: it resolves to the private address/m);
    expect(run.summary).toMatch(/127\.0\.0\.1:9\/nothing\/here:1: refusing to contact/);
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
    // The unreachable registry is allowed, so that its connection is tried (and refused).
    const run = await runActionStep({ api: api.url, work, env: { DIGESTA_ALLOW_PRIVATE_REGISTRIES: `${reg.host},127.0.0.1:9` } });
    expect(run.signal, `the Action's process did not end by itself:\n${run.stdout}`).toBeNull();
    expect(run.stdout).toMatch(/127\.0\.0\.1:9\/nothing\/here:1 could not be checked: .*ECONNREFUSED/);
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ updated: "1", failed: "1", "up-to-date": "1" });
    // The missing tag is "vanished" (its pin stays), not "could not be checked".
    expect(run.stdout).toMatch(/"failed":1,"vanished":1,"msg":"repository refreshed"/);
  });

  it("reads a registry through the mirror the registry-mirrors input names, and writes the canonical name", async () => {
    // Nothing listens at the canonical registry: every answer has to come from the mirror (on another loopback host).
    const mirror = await startRegistry({ address: "127.0.0.2" });
    try {
      const moved = await movingTag(mirror, "team/tool", "2");
      const canonical = "127.0.0.1:9";
      fake.createRepository("someone", "tools", { "deploy.yaml": `image: ${canonical}/team/tool:2@${moved.before.digest}\n` }, { installationId: 1 });
      const run = await runActionStep({
        api: api.url,
        work,
        inputs: { "registry-mirrors": `\nquay.io=127.0.0.2:9\n${canonical}=${mirror.host}\n` },
        env: { DIGESTA_ALLOW_PRIVATE_REGISTRIES: mirror.host },
      });
      expect(run.code, run.stdout).toBe(0);
      expect(run.outputs).toMatchObject({ updated: "1", failed: "0" });
      expect(fake.files("someone", "tools", ALL_BRANCH)["deploy.yaml"]).toBe(`image: ${canonical}/team/tool:2@${moved.after.digest}\n`);
    } finally {
      await mirror.stop();
    }
  });

  it.each([
    ["an entry without a mirror", { "registry-mirrors": "docker.io" }, {}, /^::error::input registry-mirrors: "docker.io" is not REGISTRY=MIRROR/],
    ["a registry given a mirror twice", { "registry-mirrors": "docker.io=a.example.com" }, { DIGESTA_REGISTRY_MIRRORS: "docker.io=b.example.com" }, /both give docker.io a mirror/],
  ])("stops on %s in registry-mirrors before reading anything", async (_what, inputs, env, message) => {
    fake.createRepository("someone", "tools", { "deploy.yaml": pinned(build.before.digest) }, { installationId: 1 });
    const run = await runActionStep({ api: api.url, work, inputs, env: { DIGESTA_ALLOW_PRIVATE_REGISTRIES: reg.host, ...env } });
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split("\n")).toEqual([expect.stringMatching(message)]);
    expect(fake.requests).toEqual([]);
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
