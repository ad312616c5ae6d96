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
