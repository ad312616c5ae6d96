import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import type { RecordedRequest } from "../support/github-fake.js";
import { pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, startApp, type Harness } from "./harness.js";

// GitHub requests per pull request, counted at the stateful fake: the writes are what GitHub's secondary rate
// limits (and Octokit's throttling, one write a second per installation) charge for, so their number is behaviour.

const REPO = "service";
const line = (r: RecordedRequest) => `${r.method} ${decodeURIComponent(r.path).replace(`/repos/${OWNER}/${REPO}`, "")}`;

describe("GitHub requests per pull request", () => {
  let reg: TestRegistry;
  let app: Harness;
  let web: { v1: PushedBuild; v2: PushedBuild };
  let worker: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    web = { v1: await pushBuild(reg, "team/web", "1", { generation: 1 }), v2: await pushBuild(reg, "team/web", "1", { generation: 2 }) };
    worker = { v1: await pushBuild(reg, "team/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "team/worker", "stable", { generation: 2 }) };
  });
  afterAll(() => reg.stop());
  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;

  function createRepository(files: Record<string, string | Buffer>, options: { executable?: string[] } = {}) {
    app.fake.createRepository(OWNER, REPO, files, { installationId: INSTALLATION, ...options });
    return { owner: OWNER, name: REPO };
  }

  const stale = () => ({
    "Dockerfile": `FROM ${pin("team/web", "1", web.v1.digest)}\n`,
    "deploy/app.yaml": `containers:\n  - image: ${pin("team/web", "1", web.v1.digest)}\n  - image: ${pin("team/worker", "stable", worker.v1.digest)}\n`,
    "deploy/jobs.yaml": `image: ${pin("team/worker", "stable", worker.v1.digest)}\n`,
  });

  async function sweep(): Promise<RecordedRequest[]> {
    const from = app.fake.requests.length;
    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    // The sweep's own listing of installations and repositories is not the pull request's.
    return app.fake.requests.slice(from).filter((r) => r.path.startsWith(`/repos/`) || r.host === "codeload.github.com");
  }

  it("opens a pull request changing three text files with four writes: tree (contents inline), commit, branch, pull request", async () => {
    createRepository(stale());
    const requests = await sweep();

    expect(requests.filter((r) => r.method !== "GET").map(line)).toEqual(["POST /git/trees", "POST /git/commits", "POST /git/refs", "POST /pulls"]);
    // Reads: the configuration (the repository has none: then the organisation's), the default branch, digesta's open
    // issues, the tarball (and its download), open pull requests, the branch, the branch's closed pull requests.
    expect(requests.filter((r) => r.method === "GET").map((r) => line(r).replace(/[0-9a-f]{40}/, "SHA"))).toEqual([
      "GET /contents/.github/digesta.yml",
      `GET /repos/${OWNER}/.github/contents/.github/digesta.yml`,
      "GET /branches/main",
      "GET /issues",
      "GET /tarball/SHA",
      `GET /${OWNER}/${REPO}/legacy.tar.gz/SHA`,
      "GET /pulls",
      `GET /git/ref/heads/${ALL_BRANCH}`,
      "GET /pulls",
    ]);
    expect(app.fake.files(OWNER, REPO, ALL_BRANCH)["deploy/jobs.yaml"]).toBe(`image: ${pin("team/worker", "stable", worker.v2.digest)}\n`);
  });

  it("adds one write for labels and one for reviewers, only when the configuration asks for them", async () => {
    createRepository({ ...stale(), ".github/digesta.yml": "labels: [dependencies]\nreviewers: [alice, octo-org/platform]\n" });
    const requests = await sweep();

    expect(requests.filter((r) => r.method !== "GET").map(line)).toEqual([
      "POST /git/trees",
      "POST /git/commits",
      "POST /git/refs",
      "POST /pulls",
      "POST /issues/1/labels",
      "POST /pulls/1/requested_reviewers",
    ]);
    expect(app.fake.pulls(OWNER, REPO)[0]).toMatchObject({ labels: ["dependencies"], reviewers: ["alice"], teamReviewers: ["platform"] });
  });

  it("updates its pull request with four writes when a tag moves again, labels and reviewers not asked twice", async () => {
    createRepository({ ...stale(), ".github/digesta.yml": "labels: [dependencies]\nreviewers: [alice]\n" });
    await sweep();
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      const requests = await sweep();
      expect(requests.filter((r) => r.method !== "GET").map(line)).toEqual([
        "POST /git/trees",
        "POST /git/commits",
        `PATCH /git/refs/heads/${ALL_BRANCH}`,
        "PATCH /pulls/1",
      ]);
      // The branch's head comes with the open pull request: its commit is read, and the branch itself once more
      // just before it is replaced (the pull request list may lag a push).
      expect(requests.filter((r) => r.method === "GET").map((r) => line(r).replace(/[0-9a-f]{40}/, "SHA"))).toEqual([
        "GET /contents/.github/digesta.yml",
        "GET /branches/main",
        "GET /issues",
        "GET /tarball/SHA",
        `GET /${OWNER}/${REPO}/legacy.tar.gz/SHA`,
        "GET /pulls",
        "GET /git/commits/SHA",
        `GET /git/ref/heads/${ALL_BRANCH}`,
      ]);
      expect(app.fake.files(OWNER, REPO, ALL_BRANCH)["deploy/jobs.yaml"]).toContain(v3.digest);
      expect(app.fake.commitsAhead(OWNER, REPO, ALL_BRANCH)).toHaveLength(1);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("moves its commit onto a new base without touching the pull request when what it says is the same", async () => {
    createRepository(stale());
    await sweep();
    const after = app.fake.commit(OWNER, REPO, { "README.md": "# service\n" });
    const writes = (await sweep()).filter((r) => r.method !== "GET").map(line);
    expect(writes).toEqual(["POST /git/trees", "POST /git/commits", `PATCH /git/refs/heads/${ALL_BRANCH}`]);
    expect(app.fake.commitsAhead(OWNER, REPO, ALL_BRANCH)[0]!.parents).toEqual([after]);
  });

  it("writes nothing and reads the branch once on a run with nothing new", async () => {
    createRepository(stale());
    await sweep();
    const requests = await sweep();
    expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
    // The branch's head comes with the pull request list: only its commit is read, to check it is still digesta's.
    expect(requests.map(line).filter((l) => l.startsWith("GET /git/"))).toEqual([`GET /git/commits/${app.fake.branchHead(OWNER, REPO, ALL_BRANCH)}`]);
  });

  it("never overwrites a push the pull request list does not show yet", async () => {
    createRepository(stale());
    await sweep();
    // Someone pushes; GitHub's pull request list can lag the branch by a moment (as if it still showed the old head).
    const ours = app.fake.branchHead(OWNER, REPO, ALL_BRANCH)!;
    const theirs = app.fake.commit(OWNER, REPO, { "NOTES.md": "tested\n" }, { branch: ALL_BRANCH, author: "alice" });
    app.fake.pullHeadLag = { branch: ALL_BRANCH, sha: ours };
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await sweep();
      expect(app.fake.branchHead(OWNER, REPO, ALL_BRANCH)).toBe(theirs);
      expect(app.fake.files(OWNER, REPO, ALL_BRANCH)["deploy/jobs.yaml"]).not.toContain(v3.digest);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("keeps every byte: UTF-8 text inline (BOM, CRLF, non-ASCII), other bytes as a blob, modes as they were", async () => {
    const utf8 = Buffer.from(`\uFEFF# café ☕\r\nFROM ${pin("team/web", "1", web.v1.digest)}\r\n`, "utf8");
    const latin1 = Buffer.concat([Buffer.from("# caf"), Buffer.from([0xe9]), Buffer.from(`\nimage: ${pin("team/web", "1", web.v1.digest)}\n`)]);
    const script = `#!/bin/sh\ndocker run ${pin("team/web", "1", web.v1.digest)}\n`;
    createRepository({ "Dockerfile": utf8, "deploy/legacy.yaml": latin1, "run.sh": script }, { executable: ["run.sh"] });
    const requests = await sweep();

    expect(requests.filter((r) => r.method !== "GET").map(line)).toEqual(["POST /git/blobs", "POST /git/trees", "POST /git/commits", "POST /git/refs", "POST /pulls"]);
    const moved = (bytes: Buffer) => Buffer.from(bytes.toString("latin1").replace(web.v1.digest, web.v2.digest), "latin1");
    expect(app.fake.fileBytes(OWNER, REPO, ALL_BRANCH, "Dockerfile")).toEqual(moved(utf8));
    expect(app.fake.fileBytes(OWNER, REPO, ALL_BRANCH, "deploy/legacy.yaml")).toEqual(moved(latin1));
    expect(app.fake.fileBytes(OWNER, REPO, ALL_BRANCH, "run.sh")!.toString("utf8")).toBe(script.replace(web.v1.digest, web.v2.digest));
    expect(app.fake.fileMode(OWNER, REPO, ALL_BRANCH, "run.sh")).toBe("100755");
    expect(app.fake.fileMode(OWNER, REPO, ALL_BRANCH, "Dockerfile")).toBe("100644");
  });
});
