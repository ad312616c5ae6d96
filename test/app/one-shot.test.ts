import { pino } from "pino";
import { ProbotOctokit } from "probot";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runOneShot } from "../../src/app/one-shot.js";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { CONFIG_ISSUE_TITLE } from "../../src/github/config-issue.js";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { GitHubFake } from "../support/github-fake.js";
import { movingTag, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

describe("runOneShot", () => {
  let reg: TestRegistry;
  let build: { before: PushedBuild; after: PushedBuild };
  let fake: GitHubFake;
  beforeAll(async () => {
    reg = await startRegistry();
    build = await movingTag(reg, "team/tool", "2");
  });
  afterAll(() => reg.stop());
  beforeEach(() => {
    fake = new GitHubFake();
    fake.install();
    fake.addInstallation(7, "someone");
  });
  afterEach(() => fake.uninstall());

  const client = (token: string) => new ProbotOctokit({ auth: { token }, retry: { enabled: false }, throttle: { enabled: false } });

  it("refreshes one repository with a plain token, and leaves workflows out when GitHub refuses them", async () => {
    const pinned = `${reg.host}/team/tool:2@${build.before.digest}`;
    fake.createRepository("someone", "tools", { "Makefile": `IMAGE = ${pinned}\n`, ".github/workflows/build.yml": `image: ${pinned}\n` }, { installationId: 7 });
    fake.addToken("ghs_workflow_token");

    const outcome = await runOneShot({
      owner: "someone",
      repo: "tools",
      token: "ghs_workflow_token",
      octokit: client("ghs_workflow_token"),
      session: createSessionFactory({ allowPrivateRegistries: [reg.host] })(),
      log: pino({ level: "silent" }),
    });

    expect(outcome).toMatchObject({ status: "done", updates: 1, failed: 0 });
    const files = fake.files("someone", "tools", ALL_BRANCH);
    expect(files["Makefile"]).toBe(`IMAGE = ${reg.host}/team/tool:2@${build.after.digest}\n`);
    expect(files[".github/workflows/build.yml"]).toContain(build.before.digest);
    const [pull] = fake.pulls("someone", "tools");
    expect(pull).toMatchObject({ author: "github-actions[bot]", head: ALL_BRANCH });
    expect(pull!.body).toContain("<code>.github/workflows/build.yml</code>");
    expect(fake.commitsAhead("someone", "tools", ALL_BRANCH)).toHaveLength(1);
  });

  it("lists in the title, table and commit message only the pins it moves; one pinned only in a left-out workflow is listed apart", async () => {
    const other = await movingTag(reg, "team/ci-only", "3");
    const tool = `${reg.host}/team/tool:2@${build.before.digest}`;
    const ciOnly = `${reg.host}/team/ci-only:3@${other.before.digest}`;
    fake.createRepository(
      "someone",
      "tools",
      { "Makefile": `IMAGE = ${tool}\n`, ".github/workflows/build.yml": `a: ${tool}\nb: ${ciOnly}\n` },
      { installationId: 7 },
    );
    fake.addToken("ghs_workflow_token");

    const outcome = await runOneShot({
      owner: "someone",
      repo: "tools",
      token: "ghs_workflow_token",
      octokit: client("ghs_workflow_token"),
      session: createSessionFactory({ allowPrivateRegistries: [reg.host] })(),
      log: pino({ level: "silent" }),
    });

    // One pin moved (in the Makefile); the one pinned only in the workflow is not counted as moved.
    expect(outcome).toMatchObject({ status: "done", updates: 1, leftOut: 1, failed: 0 });
    const files = fake.files("someone", "tools", ALL_BRANCH);
    expect(files[".github/workflows/build.yml"]).toBe(`a: ${tool}\nb: ${ciOnly}\n`);
    const [pull] = fake.pulls("someone", "tools");
    expect(pull!.title).toBe(`Update ${reg.host}/team/tool:2 digest`);
    const table = pull!.body.slice(0, pull!.body.indexOf("### Left out"));
    expect(table).toContain("team/tool");
    expect(table).not.toContain("ci-only");
    expect(table).toContain("digesta found a newer digest for the tag below");
    const leftOut = pull!.body.slice(pull!.body.indexOf("### Left out"));
    expect(leftOut).toContain("<code>.github/workflows/build.yml</code>");
    expect(leftOut).toMatch(/Pinned only in those files, so not moved by this pull request:\n\n- <code>127\.0\.0\.1:\d+\/team\/ci-only:3<\/code>/);
    const [commit] = fake.commitsAhead("someone", "tools", ALL_BRANCH);
    expect(commit!.message).toMatch(/^Update .*team\/tool:2 digest\n\n- .*team\/tool:2: sha256:\w+ → sha256:\w+\n\nDigesta-Fingerprint: /);
    expect(commit!.message).not.toContain("ci-only");
  });

  it("refuses the test registry when the operator did not allow it", async () => {
    fake.createRepository("someone", "tools", { "Makefile": `IMAGE = ${reg.host}/team/tool:2@${build.before.digest}\n` }, { installationId: 7 });
    fake.addToken("ghs_token");
    const outcome = await runOneShot({
      owner: "someone",
      repo: "tools",
      token: "ghs_token",
      octokit: client("ghs_token"),
      registry: { allowPrivateRegistries: [], env: {} },
      log: pino({ level: "silent" }),
    });
    expect(outcome).toMatchObject({ status: "done", updates: 0, failed: 1 });
    expect(fake.pulls("someone", "tools")).toEqual([]);
  });

  it("leaves alone a person's issue that bears the configuration issue's title (a plain token does not know its login)", async () => {
    fake.createRepository("someone", "tools", { "Makefile": `IMAGE = ${reg.host}/team/tool:2@${build.before.digest}\n` }, { installationId: 7 });
    fake.addToken("ghs_token");
    const theirs = fake.openIssue("someone", "tools", { title: CONFIG_ISSUE_TITLE, body: "How do I fix this?", author: "alice" });
    const outcome = await runOneShot({
      owner: "someone",
      repo: "tools",
      token: "ghs_token",
      octokit: client("ghs_token"),
      session: createSessionFactory({ allowPrivateRegistries: [reg.host] })(),
      log: pino({ level: "silent" }),
    });
    expect(outcome).toMatchObject({ status: "done" });
    expect(fake.issues("someone", "tools")).toEqual([expect.objectContaining({ number: theirs, state: "open", body: "How do I fix this?" })]);
    expect(fake.comments("someone", "tools", theirs)).toEqual([]);
  });
});
