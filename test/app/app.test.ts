import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { PULL_REQUEST_MARKER } from "../../src/github/pull-request-text.js";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import type { RegistryClient } from "../../src/registry/client.js";
import { installationCreated, push, repositoriesAdded } from "../fixtures/webhooks/payloads.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { DOWN_REGISTRY, INSTALLATION, OWNER, pushApkBuild, startApp, SWEEP_SECRET, type Harness } from "./harness.js";

const short = (digest: string) => digest.slice(0, 19);

describe("the GitHub App", () => {
  let reg: TestRegistry;
  let app: Harness;
  let web: { v1: PushedBuild; v2: PushedBuild };
  let worker: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    web = {
      v1: await pushApkBuild(reg, "team/web", "1", 1, [{ name: "busybox", version: "1.36.1-r0" }]),
      v2: await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]),
    };
    worker = { v1: await pushBuild(reg, "team/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "team/worker", "stable", { generation: 2 }) };
  });
  afterAll(() => reg.stop());

  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;

  function createRepository(name: string, files: Record<string, string>) {
    app.fake.createRepository(OWNER, name, files, { installationId: INSTALLATION });
    return { owner: OWNER, name };
  }

  function standardRepository(name = "service") {
    return createRepository(name, {
      "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\nRUN true\n`,
      "deploy/app.yaml": `containers:\n  - image: ${pin("team/web", "1", web.v1.digest)}\n  - image: ${pin("team/worker", "stable", worker.v1.digest)}\n`,
      "README.md": "no pins here\n",
      ".github/digesta.yml": "labels: [dependencies, digests]\nreviewers: [alice, octo-org/platform]\n",
    });
  }

  it("opens one pull request on installation that moves every stale digest, in one commit by the app", async () => {
    const repo = standardRepository();
    const mainBefore = app.fake.branchHead(OWNER, repo.name, "main")!;
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const pulls = app.fake.pulls(OWNER, repo.name);
    expect(pulls).toHaveLength(1);
    const pull = pulls[0]!;
    expect(pull).toMatchObject({ state: "open", head: ALL_BRANCH, base: "main", author: app.fake.botLogin, title: "Update digests of 2 images" });
    expect(pull.labels).toEqual(["dependencies", "digests"]);
    expect(pull.reviewers).toEqual(["alice"]);
    expect(pull.teamReviewers).toEqual(["platform"]);

    const files = app.fake.files(OWNER, repo.name, ALL_BRANCH);
    expect(files["Dockerfile"]).toBe(`FROM ${pin("team/web", "1", web.v2.digest)}\nRUN true\n`);
    expect(files["deploy/app.yaml"]).toBe(
      `containers:\n  - image: ${pin("team/web", "1", web.v2.digest)}\n  - image: ${pin("team/worker", "stable", worker.v2.digest)}\n`,
    );
    expect(app.fake.files(OWNER, repo.name, "main")["Dockerfile"]).toContain(web.v1.digest);

    const ahead = app.fake.commitsAhead(OWNER, repo.name, ALL_BRANCH);
    expect(ahead).toHaveLength(1);
    expect(ahead[0]).toMatchObject({ author: app.fake.botLogin, parents: [mainBefore] });

    // The body: table (short digests, places), full digests, build time, package diff, commands.
    expect(pull.body).toContain(`${short(web.v1.digest)}</code> → <code>${short(web.v2.digest)}`);
    expect(pull.body).toContain("<code>Dockerfile:1</code><br><code>deploy/app.yaml:2</code>");
    expect(pull.body).toContain(web.v2.digest);
    expect(pull.body).toContain("2024-01-03 00:00 UTC");
    expect(pull.body).toContain("### Package changes");
    expect(pull.body).toContain("busybox");
    expect(pull.body).toContain("1.36.1-r5");
    expect(pull.body).toContain("/digesta refresh");
    expect(pull.body!.length).toBeLessThan(65_536);
  });

  it("pushes nothing on a second run when nothing new was published", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const head = app.fake.branchHead(OWNER, repo.name, ALL_BRANCH);
    const seen = app.fake.requests.length;

    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.fake.writes(seen)).toEqual([]);
    expect(app.fake.branchHead(OWNER, repo.name, ALL_BRANCH)).toBe(head);
    expect(app.fake.pulls(OWNER, repo.name)).toHaveLength(1);
  });

  it("updates the same pull request in place when a tag moves again", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [first] = app.fake.pulls(OWNER, repo.name);
    const v3 = await pushApkBuild(reg, "team/web", "1", 3, [{ name: "busybox", version: "1.37.0-r0" }]);
    try {
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();

      const pulls = app.fake.pulls(OWNER, repo.name);
      expect(pulls).toHaveLength(1);
      expect(pulls[0]!.number).toBe(first!.number);
      expect(pulls[0]!.body).toContain(short(v3.digest));
      expect(pulls[0]!.body).not.toContain(short(web.v2.digest));
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["Dockerfile"]).toContain(v3.digest);
      expect(app.fake.commitsAhead(OWNER, repo.name, ALL_BRANCH)).toHaveLength(1);
    } finally {
      // Put the tag back for the other tests.
      await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]);
    }
  });

  it("takes its pull request back, instead of failing on every run, when someone edited the body's first line away", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [first] = app.fake.pulls(OWNER, repo.name);
    first!.body = `Waiting for the release on Monday.\n\n${first!.body}`;

    await app.digesta.sweep({ force: true });
    await app.digesta.idle();

    expect(app.logs.filter((l) => l["msg"] === "refresh failed")).toEqual([]);
    const pulls = app.fake.pulls(OWNER, repo.name);
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.body.startsWith(PULL_REQUEST_MARKER)).toBe(true);
  });

  it("never closes a person's pull request that happens to come from a digesta/ branch", async () => {
    const repo = standardRepository();
    app.fake.createBranch(OWNER, repo.name, "digesta/experiment");
    app.fake.commit(OWNER, repo.name, { "README.md": "trying something\n" }, { branch: "digesta/experiment", author: "alice" });
    const theirs = app.fake.openPullRequest(OWNER, repo.name, { head: "digesta/experiment", author: "alice", title: "Experiment", body: "mine" });

    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const pulls = app.fake.pulls(OWNER, repo.name);
    expect(pulls.find((p) => p.number === theirs)).toMatchObject({ state: "open", body: "mine" });
    expect(app.fake.comments(OWNER, repo.name, theirs)).toEqual([]);
    expect(app.fake.branches(OWNER, repo.name)).toContain("digesta/experiment");
    expect(app.fake.openPulls(OWNER, repo.name).map((p) => p.head).sort()).toEqual(["digesta/experiment", ALL_BRANCH]);
  });

  it("does not run for a push to the default branch that changes no pinned reference and no configuration", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const downloads = () => app.fake.requests.filter((r) => r.host === "codeload.github.com").length;
    const before = app.fake.branchHead(OWNER, repo.name, "main")!;
    const after = app.fake.commit(OWNER, repo.name, { "README.md": "# notes\n" });
    const downloaded = downloads();

    await app.receive(push(INSTALLATION, repo, "main", before, after));

    expect(downloads()).toBe(downloaded);
    expect(app.logs.filter((l) => l["msg"] === "refresh started" && l["reason"] === "push")).toEqual([]);
  });

  it("closes the pull request with a comment when the pins were updated by hand", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.pulls(OWNER, repo.name);
    const before = app.fake.branchHead(OWNER, repo.name, "main")!;
    const after = app.fake.commit(OWNER, repo.name, app.fake.files(OWNER, repo.name, ALL_BRANCH), { message: "Bump by hand" });

    await app.receive(push(INSTALLATION, repo, "main", before, after));

    expect(app.fake.pulls(OWNER, repo.name)).toEqual([expect.objectContaining({ number: pull!.number, state: "closed", merged: false })]);
    const comments = app.fake.comments(OWNER, repo.name, pull!.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/^Closing: nothing it changes is stale any more/);
    expect(app.fake.branches(OWNER, repo.name)).toEqual(["main"]);
  });

  it("leaves a branch with a person's commit alone, and says so once", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.pulls(OWNER, repo.name);
    const human = app.fake.commit(OWNER, repo.name, { "NOTES.md": "tested by hand\n" }, { branch: ALL_BRANCH, author: "alice" });
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();

      expect(app.fake.branchHead(OWNER, repo.name, ALL_BRANCH)).toBe(human);
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy/app.yaml"]).not.toContain(v3.digest);
      const comments = app.fake.comments(OWNER, repo.name, pull!.number);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.body).toContain("leaves this branch as it is");
      expect(app.fake.openPulls(OWNER, repo.name)).toHaveLength(1);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("takes its branch back once the pull request a person pushed to is merged, and opens a fresh one", async () => {
    const repo = standardRepository("merged-with-push");
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [first] = app.fake.pulls(OWNER, repo.name);
    const human = app.fake.commit(OWNER, repo.name, { "NOTES.md": "tested by hand\n" }, { branch: ALL_BRANCH, author: "alice" });
    app.fake.merge(OWNER, repo.name, first!.number); // GitHub's default keeps the branch
    expect(app.fake.branchHead(OWNER, repo.name, ALL_BRANCH)).toBe(human);
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();

      const open = app.fake.openPulls(OWNER, repo.name);
      expect(open).toHaveLength(1);
      expect(open[0]!.number).not.toBe(first!.number);
      const ahead = app.fake.commitsAhead(OWNER, repo.name, ALL_BRANCH);
      expect(ahead).toHaveLength(1);
      expect(ahead[0]!.author).toBe(app.fake.botLogin);
      expect(ahead[0]!.parents).toEqual([app.fake.branchHead(OWNER, repo.name, "main")]);
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy/app.yaml"]).toContain(v3.digest);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("takes its branch back once the pull request a person pushed to is closed, when a tag moves again", async () => {
    const repo = standardRepository("closed-with-push");
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [first] = app.fake.pulls(OWNER, repo.name);
    const human = app.fake.commit(OWNER, repo.name, { "NOTES.md": "tested by hand\n" }, { branch: ALL_BRANCH, author: "alice" });
    first!.state = "closed"; // closed unmerged, branch kept

    // The same proposal a person closed is not made again...
    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.fake.openPulls(OWNER, repo.name)).toEqual([]);
    expect(app.fake.branchHead(OWNER, repo.name, ALL_BRANCH)).toBe(human);

    // ...but a new one is, on a branch digesta resets.
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();
      const open = app.fake.openPulls(OWNER, repo.name);
      expect(open).toHaveLength(1);
      expect(open[0]!.number).not.toBe(first!.number);
      expect(app.fake.commitsAhead(OWNER, repo.name, ALL_BRANCH).map((c) => c.author)).toEqual([app.fake.botLogin]);
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["NOTES.md"]).toBeUndefined();
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy/app.yaml"]).toContain(v3.digest);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("does not reopen a proposal a person closed, but proposes again once a tag moves", async () => {
    const repo = createRepository("closed-by-hand", { "Dockerfile": `FROM ${pin("team/worker", "stable", worker.v1.digest)}\n` });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [first] = app.fake.pulls(OWNER, repo.name);
    first!.state = "closed"; // a person closed it without merging

    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.fake.openPulls(OWNER, repo.name)).toEqual([]);

    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();
      const open = app.fake.openPulls(OWNER, repo.name);
      expect(open).toHaveLength(1);
      expect(open[0]!.number).not.toBe(first!.number);
      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["Dockerfile"]).toContain(v3.digest);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("replaces the single pull request by one per image when the configuration says so", async () => {
    const repo = standardRepository("regrouped");
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [all] = app.fake.pulls(OWNER, repo.name);
    const before = app.fake.branchHead(OWNER, repo.name, "main")!;
    const after = app.fake.commit(OWNER, repo.name, { ".github/digesta.yml": "group: image\n" });
    await app.receive(push(INSTALLATION, repo, "main", before, after));

    expect(app.fake.pulls(OWNER, repo.name).find((p) => p.number === all!.number)!.state).toBe("closed");
    expect(app.fake.comments(OWNER, repo.name, all!.number)[0]!.body).toContain("groups updates by `image`");
    const port = reg.host.split(":")[1];
    expect(app.fake.openPulls(OWNER, repo.name).map((p) => p.head).sort()).toEqual([
      `digesta/image/127.0.0.1-${port}/team/web`,
      `digesta/image/127.0.0.1-${port}/team/worker`,
    ]);
    expect(app.fake.files(OWNER, repo.name, `digesta/image/127.0.0.1-${port}/team/worker`)["deploy/app.yaml"]).toBe(
      `containers:\n  - image: ${pin("team/web", "1", web.v1.digest)}\n  - image: ${pin("team/worker", "stable", worker.v2.digest)}\n`,
    );
  });

  it("opens a configuration issue listing what is wrong by line, and closes it once the file is fixed", async () => {
    const repo = createRepository("broken", {
      "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\n`,
      ".github/digesta.yml": "# settings\ngroup: everything\nschedule: sometimes\n",
    });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    expect(app.fake.pulls(OWNER, repo.name)).toEqual([]);
    const issues = app.fake.issues(OWNER, repo.name);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.title).toBe("digesta: configuration error");
    expect(issues[0]!.body).toContain("line 2, <code>group</code>");
    expect(issues[0]!.body).toContain("line 3, <code>schedule</code>");

    // The same problem again: the same issue, not a second one.
    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.fake.issues(OWNER, repo.name)).toHaveLength(1);

    const before = app.fake.branchHead(OWNER, repo.name, "main")!;
    const after = app.fake.commit(OWNER, repo.name, { ".github/digesta.yml": "group: image\n" });
    await app.receive(push(INSTALLATION, repo, "main", before, after));

    expect(app.fake.issues(OWNER, repo.name)).toEqual([expect.objectContaining({ state: "closed" })]);
    expect(app.fake.comments(OWNER, repo.name, issues[0]!.number)[0]!.body).toContain("valid again");
    expect(app.fake.openPulls(OWNER, repo.name).map((p) => p.head)).toEqual(["digesta/image/127.0.0.1-" + reg.host.split(":")[1] + "/team/web"]);
  });

  it("leaves workflow files out, and says so, without the Workflows permission", async () => {
    const repo = createRepository("with-workflows", {
      "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\n`,
      ".github/workflows/ci.yml": `jobs:\n  test:\n    container: ${pin("team/web", "1", web.v1.digest)}\n`,
    });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const files = app.fake.files(OWNER, repo.name, ALL_BRANCH);
    expect(files["Dockerfile"]).toContain(web.v2.digest);
    expect(files[".github/workflows/ci.yml"]).toContain(web.v1.digest);
    const [pull] = app.fake.pulls(OWNER, repo.name);
    expect(pull!.body).toContain("### Left out");
    expect(pull!.body).toContain("<code>.github/workflows/ci.yml</code>");
  });

  it("changes workflow files too when the installation granted the Workflows permission", async () => {
    await app.close();
    app = await startApp(reg, { permissions: { metadata: "read", contents: "write", pull_requests: "write", issues: "write", workflows: "write" } });
    const repo = createRepository("with-workflows", {
      ".github/workflows/ci.yml": `jobs:\n  test:\n    container: ${pin("team/web", "1", web.v1.digest)}\n`,
    });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)[".github/workflows/ci.yml"]).toContain(web.v2.digest);
    expect(app.fake.pulls(OWNER, repo.name)[0]!.body).not.toContain("### Left out");
  });

  it("still updates the other images when one registry is down, and says which could not be checked", async () => {
    const repo = createRepository("partly-down", {
      "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\nFROM ${DOWN_REGISTRY}/team/gone:1@${web.v1.digest}\n`,
    });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const [pull] = app.fake.pulls(OWNER, repo.name);
    expect(pull!.title).toBe(`Update ${reg.host}/team/web:1 digest`);
    expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["Dockerfile"]).toBe(
      `FROM ${pin("team/web", "1", web.v2.digest)}\nFROM ${DOWN_REGISTRY}/team/gone:1@${web.v1.digest}\n`,
    );
    expect(pull!.body).toContain("### Could not check");
    expect(pull!.body).toContain(`could not check <code>${DOWN_REGISTRY}/team/gone:1</code>`);
  });

  it("refuses registries on private addresses unless the operator allows them by name", async () => {
    const port = reg.host.split(":")[1];
    const repo = createRepository("private", {
      "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\nFROM localhost:${port}/team/worker:stable@${worker.v1.digest}\n`,
    });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const files = app.fake.files(OWNER, repo.name, ALL_BRANCH);
    expect(files["Dockerfile"]).toContain(web.v2.digest);
    expect(files["Dockerfile"]).toContain(`localhost:${port}/team/worker:stable@${worker.v1.digest}`);
    const [pull] = app.fake.pulls(OWNER, repo.name);
    expect(pull!.body).toMatch(/could not check <code>localhost:\d+\/team\/worker:stable<\/code>: [^\n]*(private|loopback)/);
  });

  it("resolves each image tag once in a sweep, whatever the number of repositories that pin it", async () => {
    /** Registry requests made by one forced sweep over `count` repositories with the same pins. */
    const sweepRequests = async (count: number) => {
      await app.close();
      const factory = createSessionFactory({ allowPrivateRegistries: [reg.host], retries: 1, backoff: { baseMs: 1, maxMs: 5 } });
      let client: RegistryClient | undefined;
      app = await startApp(reg, {
        createSession: () => {
          const session = factory();
          client = session.registry as RegistryClient;
          return session;
        },
      });
      const names = Array.from({ length: count }, (_, i) => `swept-${count}-${i}`);
      for (const name of names) standardRepository(name);
      await app.digesta.sweep({ force: true });
      await app.digesta.idle();
      for (const name of names) expect(app.fake.openPulls(OWNER, name)).toHaveLength(1);
      return client!.stats();
    };
    const one = await sweepRequests(1);
    const five = await sweepRequests(5);
    expect(one.byKind.manifest).toBeGreaterThan(0);
    expect(five.byKind.manifest).toBe(one.byKind.manifest);
    expect(five.byKind.blob).toBe(one.byKind.blob);
    expect(five.tokenRequests).toBe(one.tokenRequests);
  });

  it("merges overlapping triggers into one run at a time and one pull request", async () => {
    const repo = standardRepository();
    const head = app.fake.branchHead(OWNER, repo.name, "main")!;
    const unrelated = app.fake.commit(OWNER, repo.name, { "deploy/app.yaml": app.fake.files(OWNER, repo.name)["deploy/app.yaml"] + "# note\n" });
    await Promise.all([
      app.probot.receive(installationCreated(INSTALLATION, OWNER, [repo]) as never),
      app.probot.receive(repositoriesAdded(INSTALLATION, OWNER, [repo]) as never),
      app.probot.receive(push(INSTALLATION, repo, "main", head, unrelated) as never),
      app.digesta.sweep({ force: true }),
    ]);
    await app.digesta.idle();

    expect(app.fake.pulls(OWNER, repo.name)).toHaveLength(1);
    expect(app.logs.filter((l) => l["msg"] === "refresh failed")).toEqual([]);
    const downloads = app.fake.requests.filter((r) => r.host === "codeload.github.com").length;
    expect(downloads).toBeLessThanOrEqual(2);
  });

  it("logs each run with installation and repository, and never a token", async () => {
    const repo = standardRepository();
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const runLines = app.logs.filter((l) => l["msg"] === "refresh started" || l["msg"] === "repository refreshed");
    expect(runLines.length).toBeGreaterThanOrEqual(2);
    for (const line of runLines) expect(line).toMatchObject({ installation: INSTALLATION, repository: `${OWNER}/${repo.name}` });
    expect(JSON.stringify(app.logs)).not.toMatch(/ghs_fake/);

    // A download failing after GitHub's redirect: the error logged must not carry the redirect's one-time token.
    app.fake.codeloadFailure = 502;
    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.logs.filter((l) => l["msg"] === "refresh failed").length).toBeGreaterThanOrEqual(1);
    expect(app.fake.codeloadTokens.size).toBeGreaterThanOrEqual(2);
    for (const token of app.fake.codeloadTokens) expect(JSON.stringify(app.logs)).not.toContain(token);
  });

  it("runs repositories from the in-process scheduler when their own schedule is due", async () => {
    await app.close();
    let clock = new Date("2026-03-09T00:00:00Z"); // a Monday
    app = await startApp(reg, { schedulerIntervalMs: 10, now: () => clock });
    const daily = standardRepository("daily");
    const mondays = createRepository("mondays", {
      "Dockerfile": `FROM ${pin("team/worker", "stable", worker.v1.digest)}\n`,
      ".github/digesta.yml": "schedule: '0 6 * * 1'\n",
    });
    const downloads = (name: string) => app.fake.requests.filter((r) => r.host === "codeload.github.com" && r.path.startsWith(`/${OWNER}/${name}/`)).length;

    // Wednesday: both are due (neither has run: the default, daily, applies until digesta has read their configuration).
    clock = new Date("2026-03-11T12:00:00Z");
    await vi.waitFor(() => expect(downloads(daily.name) + downloads(mondays.name)).toBe(2), { timeout: 20_000, interval: 20 });
    await app.digesta.idle();
    expect(app.fake.openPulls(OWNER, daily.name)).toHaveLength(1);
    expect(app.fake.openPulls(OWNER, mondays.name)).toHaveLength(1);

    // Thursday: the daily one runs again; the Monday one waits for Monday 06:00.
    clock = new Date("2026-03-12T23:59:00Z");
    await vi.waitFor(() => expect(downloads(daily.name)).toBe(2), { timeout: 20_000, interval: 20 });
    await app.digesta.idle();
    expect(downloads(mondays.name)).toBe(1);
    clock = new Date("2026-03-16T06:01:00Z");
    await vi.waitFor(() => expect(downloads(mondays.name)).toBe(2), { timeout: 20_000, interval: 20 });
  });

  describe("the sweep endpoint", () => {
    it("refuses a missing or wrong secret and other methods", async () => {
      const url = await app.serve();
      expect((await fetch(`${url}/digesta/sweep`, { method: "POST" })).status).toBe(401);
      expect((await fetch(`${url}/digesta/sweep`, { method: "POST", headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await fetch(`${url}/digesta/sweep`, { headers: { authorization: `Bearer ${SWEEP_SECRET}` } })).status).toBe(405);
      expect(app.fake.requests.filter((r) => r.path === "/app/installations")).toEqual([]);
    });

    it("starts a sweep of every installed repository with the right secret", async () => {
      const repo = standardRepository("swept");
      const url = await app.serve();
      const response = await fetch(`${url}/digesta/sweep?force=true`, { method: "POST", headers: { authorization: `Bearer ${SWEEP_SECRET}` } });
      expect(response.status).toBe(202);
      await app.digesta.idle();
      expect(app.fake.openPulls(OWNER, repo.name)).toHaveLength(1);
    });
  });
});
