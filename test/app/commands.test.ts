import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated, issueCommentCreated } from "../fixtures/webhooks/payloads.js";
import type { PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, pushApkBuild, startApp, type Harness } from "./harness.js";

const short = (digest: string) => digest.slice(7, 19);

describe("/digesta commands in comments", () => {
  let reg: TestRegistry;
  let app: Harness;
  let web: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    web = {
      v1: await pushApkBuild(reg, "team/web", "1", 1, [{ name: "busybox", version: "1.36.1-r0" }]),
      v2: await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]),
    };
  });
  afterAll(() => reg.stop());

  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const pin = (digest: string) => `${reg.host}/team/web:1@${digest}`;

  function repository(name: string) {
    app.fake.createRepository(OWNER, name, { "Dockerfile": `FROM ${pin(web.v1.digest)}\n` }, { installationId: INSTALLATION });
    app.fake.setCollaborator(OWNER, name, "alice", "write");
    app.fake.setCollaborator(OWNER, name, "mona", "maintain");
    app.fake.setCollaborator(OWNER, name, "rita", "read");
    app.fake.setCollaborator(OWNER, name, "tom", "triage");
    return { owner: OWNER, name };
  }

  /** Someone comments on an issue or pull request, and GitHub tells the app. Returns the comment's id. */
  async function comment(
    repo: { owner: string; name: string },
    number: number,
    body: string,
    options: { login?: string; isPullRequest?: boolean; userType?: "User" | "Bot" } = {},
  ): Promise<number> {
    const login = options.login ?? "alice";
    const commentId = app.fake.addComment(OWNER, repo.name, number, body, login);
    await app.receive(
      issueCommentCreated(INSTALLATION, repo, {
        number,
        isPullRequest: options.isPullRequest ?? false,
        commentId,
        body,
        login,
        ...(options.userType ? { userType: options.userType } : {}),
      }),
    );
    return commentId;
  }

  const reactions = (repo: { name: string }, number: number, id: number) =>
    app.fake.comments(OWNER, repo.name, number).find((c) => c.id === id)!.reactions.map((r) => r.content);
  /** digesta's replies on an issue or pull request, oldest first. */
  const replies = (repo: { name: string }, number: number) =>
    app.fake.comments(OWNER, repo.name, number).filter((c) => c.author === app.fake.botLogin).map((c) => c.body);

  it("updates its own pull request on /digesta refresh after the tag moved", async () => {
    const repo = repository("refresh-pull");
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.openPulls(OWNER, repo.name);
    expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["Dockerfile"]).toContain(web.v2.digest);
    const v3 = await pushApkBuild(reg, "team/web", "1", 3, [{ name: "busybox", version: "1.37.0-r0" }]);
    try {
      const id = await comment(repo, pull!.number, "/digesta refresh", { isPullRequest: true });

      expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["Dockerfile"]).toContain(v3.digest);
      const pulls = app.fake.pulls(OWNER, repo.name);
      expect(pulls).toHaveLength(1);
      expect(pulls[0]!.body).toContain(short(v3.digest));
      expect(reactions(repo, pull!.number, id)).toEqual(["eyes", "rocket"]);
      expect(replies(repo, pull!.number)).toEqual([]); // the pull request itself says what changed
      expect(app.logs.find((l) => l["msg"] === "refresh started" && l["reason"] === "command")).toBeDefined();
    } finally {
      await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }]);
    }
  });

  it("runs the whole repository on /digesta refresh in an issue, and replies with what it did", async () => {
    const repo = repository("refresh-issue");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "Are our images fresh?" });
    const id = await comment(repo, issue, "/digesta refresh\nplease, when you can");

    const [pull] = app.fake.openPulls(OWNER, repo.name);
    expect(pull).toMatchObject({ head: ALL_BRANCH, author: app.fake.botLogin });
    expect(reactions(repo, issue, id)).toEqual(["eyes", "rocket"]);
    const [reply] = replies(repo, issue);
    expect(reply).toContain("1 digest to move");
    expect(reply).toContain(`#${pull!.number}: created`);
  });

  it("replies with the package diff of /digesta diff IMAGE@OLD IMAGE@NEW, in any letter case", async () => {
    const repo = repository("diff-two");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "What changed?" });
    const id = await comment(repo, issue, `/DIGESTA Diff ${reg.host}/team/web@${web.v1.digest} ${reg.host}/team/web@${web.v2.digest}`);

    const [reply] = replies(repo, issue);
    expect(reply).toContain("### Package changes");
    expect(reply).toMatch(/busybox \| 1\.36\.1-r0 \| 1\.36\.1-r5/);
    expect(reply).toContain(`${short(web.v1.digest)}</code> → <code>${short(web.v2.digest)}`);
    expect(reactions(repo, issue, id)).toEqual(["eyes", "rocket"]);
  });

  it("compares /digesta diff IMAGE:TAG@OLD with what the tag points to now", async () => {
    const repo = repository("diff-tag");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "What changed?" });
    const id = await comment(repo, issue, `/digesta diff ${pin(web.v1.digest)}`);

    const [reply] = replies(repo, issue);
    expect(reply).toContain(`${short(web.v1.digest)}</code> → <code>${short(web.v2.digest)}`);
    expect(reply).toContain("1.36.1-r5");
    expect(reactions(repo, issue, id)).toEqual(["eyes", "rocket"]);
  });

  it("says what went wrong, with 😕, for an unknown image or digest, a malformed reference and a private address", async () => {
    const repo = repository("diff-wrong");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "diffs" });
    const missing = `sha256:${"e".repeat(64)}`;
    const port = reg.host.split(":")[1];
    const ids = [
      await comment(repo, issue, `/digesta diff ${reg.host}/team/nothing-here@${missing} ${reg.host}/team/nothing-here@${web.v2.digest}`),
      await comment(repo, issue, "/digesta diff NotAnImage!!@sha256:1234"),
      await comment(repo, issue, `/digesta diff localhost:${port}/team/web:1@${web.v1.digest}`),
      await comment(repo, issue, `/digesta diff ${reg.host}/team/web:1@${missing}`),
    ];

    const answers = replies(repo, issue);
    expect(answers).toHaveLength(4);
    expect(answers[0]).toMatch(/^digesta could not read <code>127\.0\.0\.1:\d+\/team\/nothing-here@sha256:e{64}<\/code>: .*404/);
    expect(answers[1]).toMatch(/is not an image reference/);
    expect(answers[1]).toContain("/digesta help");
    expect(answers[2]).toMatch(/^digesta could not read <code>localhost:\d+\/team\/web@sha256:[0-9a-f]{64}<\/code>: .*(private|loopback)/);
    expect(answers[3]).toMatch(/^digesta could not read <code>127\.0\.0\.1:\d+\/team\/web@sha256:e{64}<\/code>: .*404/);
    for (const id of ids) expect(reactions(repo, issue, id)).toEqual(["eyes", "confused"]);
  });

  it("answers an unknown command with the help and 😕, and /digesta help with the help and 🚀", async () => {
    const repo = repository("help");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "help" });
    const unknown = await comment(repo, issue, "/digesta frobnicate <img src=x> @everyone");
    const help = await comment(repo, issue, "/Digesta HELP");

    const [first, second] = replies(repo, issue);
    expect(first).toMatch(/^unknown command &#96;frobnicate&#96;/);
    expect(first).toContain("/digesta diff IMAGE@OLD IMAGE@NEW");
    expect(second).toContain("/digesta refresh");
    expect(reactions(repo, issue, unknown)).toEqual(["eyes", "confused"]);
    expect(reactions(repo, issue, help)).toEqual(["eyes", "rocket"]);
  });

  it("refuses people without write permission, with one short reply, and lets maintainers in", async () => {
    const repo = repository("permissions");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "refresh please" });
    const seen = app.fake.requests.length;
    const read = await comment(repo, issue, "/digesta refresh", { login: "rita" });
    const triage = await comment(repo, issue, "/digesta refresh", { login: "tom" });
    const stranger = await comment(repo, issue, "/digesta refresh", { login: "eve" });

    expect(replies(repo, issue)).toEqual([
      "Only people with write, maintain or admin permission on this repository can run digesta's commands.",
      "Only people with write, maintain or admin permission on this repository can run digesta's commands.",
      "Only people with write, maintain or admin permission on this repository can run digesta's commands.",
    ]);
    for (const id of [read, triage, stranger]) expect(reactions(repo, issue, id)).toEqual(["eyes", "confused"]);
    expect(app.fake.openPulls(OWNER, repo.name)).toEqual([]);
    expect(app.fake.requests.slice(seen).filter((r) => r.host === "codeload.github.com")).toEqual([]);

    const maintainer = await comment(repo, issue, "/digesta help", { login: "mona" });
    expect(reactions(repo, issue, maintainer)).toEqual(["eyes", "rocket"]);
  });

  it("ignores bots entirely, digesta itself included, and comments that are not commands", async () => {
    const repo = repository("bots");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "bots" });
    app.fake.setCollaborator(OWNER, repo.name, "renovate[bot]", "write");
    const seen = app.fake.requests.length;
    const ids = [
      await comment(repo, issue, "/digesta refresh", { login: "renovate[bot]", userType: "Bot" }),
      await comment(repo, issue, "/digesta help", { login: app.fake.botLogin, userType: "Bot" }),
      await comment(repo, issue, "Thanks! Next time try\n/digesta refresh"),
      await comment(repo, issue, "/digestahelp"),
    ];

    for (const id of ids) expect(reactions(repo, issue, id)).toEqual([]);
    // The only comment by digesta's login is the one the test wrote as digesta.
    expect(replies(repo, issue)).toEqual(["/digesta help"]);
    expect(app.fake.writes(seen)).toEqual([]);
    expect(app.fake.requests.slice(seen).filter((r) => r.path.includes("/collaborators/"))).toEqual([]);
  });

  it("goes through the one-run-per-repository guard with the other triggers", async () => {
    const repo = repository("overlap");
    const issue = app.fake.openIssue(OWNER, repo.name, { title: "now" });
    const body = "/digesta refresh";
    const commentId = app.fake.addComment(OWNER, repo.name, issue, body, "alice");
    await Promise.all([
      app.probot.receive(installationCreated(INSTALLATION, OWNER, [repo]) as never),
      app.probot.receive(issueCommentCreated(INSTALLATION, repo, { number: issue, isPullRequest: false, commentId, body, login: "alice" }) as never),
      app.digesta.sweep({ force: true }),
    ]);
    await app.digesta.idle();

    expect(app.fake.pulls(OWNER, repo.name)).toHaveLength(1);
    expect(app.logs.filter((l) => l["msg"] === "refresh failed")).toEqual([]);
    expect(app.fake.requests.filter((r) => r.host === "codeload.github.com").length).toBeLessThanOrEqual(2);
    expect(reactions(repo, issue, commentId)).toEqual(["eyes", "rocket"]);
  });
});
