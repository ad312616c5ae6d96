import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { keyPair, signWithKeys } from "../support/cosign.js";
import { PACKAGE_CHANGES_MARKER } from "../../src/conversation/comment-text.js";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated, pullRequestEvent } from "../fixtures/webhooks/payloads.js";
import type { PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, pushApkBuild, startApp, type Harness } from "./harness.js";

const short = (digest: string) => digest.slice(7, 19);
/** A digest no registry has. */
const MISSING = `sha256:${"d1".repeat(32)}`;

describe("the package-changes comment on pull requests", () => {
  let reg: TestRegistry;
  let app: Harness;
  let web: { v1: PushedBuild; v2: PushedBuild };
  let worker: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    web = {
      v1: await pushApkBuild(reg, "team/web", "1", 1, [{ name: "busybox", version: "1.36.1-r0" }, { name: "zlib", version: "1.3-r0" }]),
      v2: await pushApkBuild(reg, "team/web", "1", 2, [{ name: "busybox", version: "1.36.1-r5" }, { name: "zlib", version: "1.3-r0" }]),
    };
    worker = {
      v1: await pushApkBuild(reg, "team/worker", "stable", 1, [{ name: "openssl", version: "3.1.4-r0" }]),
      v2: await pushApkBuild(reg, "team/worker", "stable", 2, [{ name: "openssl", version: "3.2.0-r0" }, { name: "ca-certificates", version: "2024-r0" }]),
    };
  });
  afterAll(() => reg.stop());

  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const pin = (repository: string, tag: string, digest: string) => `${reg.host}/${repository}:${tag}@${digest}`;
  const dockerfile = (webDigest: string) => `FROM ${pin("team/web", "1", webDigest)}\nRUN true\n`;
  const deploy = (workerDigest: string) => `containers:\n  - image: ${pin("team/worker", "stable", workerDigest)}\n`;

  function repository(name: string, extra: Record<string, string> = {}) {
    app.fake.createRepository(
      OWNER,
      name,
      { "Dockerfile": dockerfile(web.v1.digest), "deploy/app.yaml": deploy(worker.v1.digest), "README.md": "hello\n", ...extra },
      { installationId: INSTALLATION },
    );
    return { owner: OWNER, name };
  }

  /** A person's branch with one commit, and its pull request; returns the pull request's number. */
  function personPull(repo: { name: string }, files: Record<string, string | null>, branch = "feature"): number {
    app.fake.createBranch(OWNER, repo.name, branch);
    app.fake.commit(OWNER, repo.name, files, { branch, author: "alice" });
    return app.fake.openPullRequest(OWNER, repo.name, { head: branch, author: "alice", title: "Bump images" });
  }

  async function deliver(repo: { owner: string; name: string }, number: number, action: "opened" | "synchronize" | "reopened" = "opened", branch = "feature") {
    const shas = app.fake.pullShas(OWNER, repo.name, number);
    await app.receive(pullRequestEvent(INSTALLATION, repo, action, { number, head: { ref: branch, sha: shas.head }, base: { ref: "main", sha: shas.base }, author: { login: "alice" } }));
  }

  const packageComments = (repo: { name: string }, number: number) =>
    app.fake.comments(OWNER, repo.name, number).filter((c) => c.body.startsWith(PACKAGE_CHANGES_MARKER));

  it("shows the signature verdict of each digest a person's pull request moves to, where verify: names the image", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "digesta-comment-signatures-"));
    try {
      const signer = await keyPair(dir, "signer", "ec");
      await signWithKeys(reg, "team/web", web.v2.digest, [signer]);
      const repo = repository("signed-bumps", {
        ".github/digesta.yml": stringify({ verify: { images: [{ match: `${reg.host}/team/**`, key: signer.pem }] } }),
      });
      const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest), "deploy/app.yaml": deploy(worker.v2.digest) });
      await deliver(repo, number);
      const [comment] = packageComments(repo, number);
      const section = comment!.body.slice(comment!.body.indexOf("### Signatures"));
      expect(section).toMatch(/^### Signatures\n(- .*\n){2}\n/);
      expect(section).toMatch(new RegExp(`✅ <code>[^<]*team/web@sha256:${short(web.v2.digest)}</code>: verified by <code>key SHA256:`));
      expect(section).toMatch(new RegExp(`❌ <code>[^<]*team/worker@sha256:${short(worker.v2.digest)}</code>: not signed: `));
      // Without rules, no section.
      const plain = repository("unsigned-bumps");
      const other = personPull(plain, { "Dockerfile": dockerfile(web.v2.digest) });
      await deliver(plain, other);
      expect(packageComments(plain, other)[0]!.body).not.toContain("### Signatures");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("comments once with the package diff of each of the two images a person's pull request moves", async () => {
    const repo = repository("two-bumps");
    const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest), "deploy/app.yaml": deploy(worker.v2.digest), "README.md": "hello again\n" });
    await deliver(repo, number);

    const comments = app.fake.comments(OWNER, repo.name, number);
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body;
    expect(comments[0]!.author).toBe(app.fake.botLogin);
    expect(body.startsWith(PACKAGE_CHANGES_MARKER)).toBe(true);
    expect(body).toContain("moves the digest of 2 images");
    expect(body).toContain(`${short(web.v1.digest)}</code> → <code>${short(web.v2.digest)}`);
    expect(body).toContain(`${short(worker.v1.digest)}</code> → <code>${short(worker.v2.digest)}`);
    expect(body).toMatch(/busybox \| 1\.36\.1-r0 \| 1\.36\.1-r5/);
    expect(body).toMatch(/openssl \| 3\.1\.4-r0 \| 3\.2\.0-r0/);
    expect(body).toMatch(/\| ca-certificates \| 2024-r0 \|/);
    expect(body).not.toContain("zlib"); // unchanged packages are not listed
    expect(body.length).toBeLessThan(65_536);
    // Only the changed files were read: no tarball, and README (changed, but no pin on a changed line) was never fetched.
    expect(app.fake.requests.filter((r) => r.host === "codeload.github.com")).toEqual([]);
    expect(app.fake.requests.filter((r) => r.path.includes("/contents/README.md"))).toEqual([]);
  });

  it("never takes a person's comment that quotes its marker for its own", async () => {
    const repo = repository("quoted");
    const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest) });
    const quoted = `${PACKAGE_CHANGES_MARKER}\nquoting digesta: @everyone look`;
    app.fake.addComment(OWNER, repo.name, number, quoted, "alice");
    await deliver(repo, number);

    const comments = app.fake.comments(OWNER, repo.name, number);
    expect(comments.map((c) => [c.author, c.body === quoted])).toEqual([
      ["alice", true],
      [app.fake.botLogin, false],
    ]);
    expect(comments[1]!.body).toContain("moves the digest of one image");
  });

  it("edits the same comment on the next push, and turns it into 'no digest changes' when the bump is reverted", async () => {
    const repo = repository("pushes");
    const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest) });
    await deliver(repo, number);
    const [first] = packageComments(repo, number);
    expect(first!.body).toContain("moves the digest of one image");
    expect(first!.body).not.toContain("team/worker");

    app.fake.commit(OWNER, repo.name, { "deploy/app.yaml": deploy(worker.v2.digest) }, { branch: "feature", author: "alice" });
    await deliver(repo, number, "synchronize");
    let comments = app.fake.comments(OWNER, repo.name, number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.id).toBe(first!.id);
    expect(comments[0]!.edits).toBe(1);
    expect(comments[0]!.body).toContain("moves the digest of 2 images");
    expect(comments[0]!.body).toContain("openssl");

    // The same head again (a redelivery): nothing to edit.
    await deliver(repo, number, "synchronize");
    expect(app.fake.comments(OWNER, repo.name, number)[0]!.edits).toBe(1);

    app.fake.commit(OWNER, repo.name, { "Dockerfile": dockerfile(web.v1.digest), "deploy/app.yaml": deploy(worker.v1.digest) }, { branch: "feature", author: "alice" });
    await deliver(repo, number, "synchronize");
    comments = app.fake.comments(OWNER, repo.name, number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("no longer moves any image digest");
    expect(comments[0]!.body).not.toContain("busybox");
  });

  it("leaves a pull request that moves no digest without a comment", async () => {
    const repo = repository("no-moves");
    const number = personPull(repo, {
      "README.md": `pins look like ${pin("team/web", "1", web.v2.digest)}\n`,
      "new.Dockerfile": `FROM ${pin("team/worker", "stable", worker.v2.digest)}\n`, // a new pin is not a move
      "deploy/app.yaml": null, // nor is a removed one
    });
    await deliver(repo, number);
    expect(app.fake.comments(OWNER, repo.name, number)).toEqual([]);
    expect(app.fake.writes().filter((w) => w.path.includes("/comments"))).toEqual([]);
  });

  it("says so in a line when a digest cannot be read, and still shows the other image", async () => {
    const repo = repository("missing-digest");
    const number = personPull(repo, { "Dockerfile": dockerfile(MISSING), "deploy/app.yaml": deploy(worker.v2.digest) });
    await deliver(repo, number);

    const [comment] = app.fake.comments(OWNER, repo.name, number);
    expect(comment!.body).toContain("moves the digest of 2 images");
    expect(comment!.body).toMatch(/⚠️ could not read the new image sha256:d1d1d1d1d1d1… on 127\.0\.0\.1:\d+: [^\n]*404/);
    expect(comment!.body).toContain("openssl");
    expect(app.logs.filter((l) => l["msg"] === "package changes comment failed")).toEqual([]);
  });

  it("compares with where the branch left its base, not with the base's later commits", async () => {
    const repo = repository("base-moved-on");
    const number = personPull(repo, { "deploy/app.yaml": deploy(worker.v2.digest) + "# bumped\n" });
    // Meanwhile the default branch moves the web pin (in a file the pull request does not touch) and the worker pin.
    app.fake.commit(OWNER, repo.name, { "Dockerfile": dockerfile(web.v2.digest), "deploy/app.yaml": deploy(worker.v2.digest) });
    await deliver(repo, number);

    const [comment] = app.fake.comments(OWNER, repo.name, number);
    expect(comment!.body).toContain("moves the digest of one image");
    expect(comment!.body).toContain(`${short(worker.v1.digest)}</code> → <code>${short(worker.v2.digest)}`);
    expect(comment!.body).not.toContain("team/web");
  });

  it("follows the repository's configuration: ignored images and excluded paths are left out; disabled means silent", async () => {
    const repo = repository("configured", {
      ".github/digesta.yml": `ignore: ["${reg.host}/team/worker"]\npaths:\n  exclude: ["legacy/**"]\n`,
      "legacy/Dockerfile": dockerfile(web.v1.digest).replace("web", "legacy"),
    });
    const number = personPull(repo, {
      "Dockerfile": dockerfile(web.v2.digest),
      "deploy/app.yaml": deploy(worker.v2.digest),
      "legacy/Dockerfile": dockerfile(web.v2.digest).replace("web", "legacy"),
    });
    await deliver(repo, number);
    const [comment] = app.fake.comments(OWNER, repo.name, number);
    expect(comment!.body).toContain("moves the digest of one image");
    expect(comment!.body).toContain("team/web");
    expect(comment!.body).not.toContain("team/worker");
    expect(comment!.body).not.toContain("team/legacy");

    const off = repository("turned-off", { ".github/digesta.yml": "enabled: false\n" });
    const other = personPull(off, { "Dockerfile": dockerfile(web.v2.digest) });
    await deliver(off, other);
    expect(app.fake.comments(OWNER, off.name, other)).toEqual([]);
  });

  it("still comments, with the defaults, when the configuration file is broken", async () => {
    const repo = repository("broken-config", { ".github/digesta.yml": "group: everything\n" });
    const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest) });
    await deliver(repo, number);
    expect(packageComments(repo, number)).toHaveLength(1);
    expect(packageComments(repo, number)[0]!.body).toContain("busybox");
  });

  it("reads at most 300 of a large pull request's files, only those whose patch touches a digest, and says it stopped", async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 320; i++) many[`docs/page-${String(i).padStart(3, "0")}.md`] = `page ${i}\n`;
    const repo = repository("large", many);
    const changes: Record<string, string> = { "Dockerfile": dockerfile(web.v2.digest) };
    for (const path of Object.keys(many)) changes[path] = `${many[path]}edited\n`;
    const number = personPull(repo, changes);
    await deliver(repo, number);

    const [comment] = app.fake.comments(OWNER, repo.name, number);
    expect(comment!.body).toContain("changes more than 300 files; digesta read only the first 300");
    expect(comment!.body).toContain("busybox");
    expect(app.fake.requests.filter((r) => r.path.includes("/contents/docs/"))).toEqual([]);
    expect(app.fake.requests.filter((r) => r.path.endsWith(`/pulls/${number}/files`)).length).toBeLessThanOrEqual(4);
  });

  it("comments on digesta's own pull request too, and never on a closed one", async () => {
    const repo = repository("own-pull");
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.openPulls(OWNER, repo.name);
    expect(pull!.head).toBe(ALL_BRANCH);
    await deliver(repo, pull!.number, "opened", ALL_BRANCH);
    const comments = packageComments(repo, pull!.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("moves the digest of 2 images");

    const closed = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest) }, "closed-branch");
    app.fake.pulls(OWNER, repo.name).find((p) => p.number === closed)!.state = "closed";
    await deliver(repo, closed, "reopened", "closed-branch");
    expect(app.fake.comments(OWNER, repo.name, closed)).toEqual([]);
  });

  it("says which files it could not read, with their hostile names escaped", async () => {
    const repo = repository("hostile");
    const hostile = "deploy/<img src=x onerror=alert(1)>@everyone.yaml";
    app.fake.commit(OWNER, repo.name, { [hostile]: `${"#".repeat(1_100_000)}\n${deploy(worker.v1.digest)}` });
    const number = personPull(repo, { "Dockerfile": dockerfile(web.v2.digest), [hostile]: `${"#".repeat(1_100_000)}\n${deploy(worker.v2.digest)}` });
    await deliver(repo, number);

    const [comment] = app.fake.comments(OWNER, repo.name, number);
    expect(comment!.body).toContain("busybox");
    expect(comment!.body).toMatch(/onerror=alert\(1\)&#62;@\u200beveryone\.yaml was not read: larger than 1024 KiB/);
    expect(comment!.body).not.toContain("<img");
    expect(comment!.body).not.toMatch(/@everyone/);
  });
});
