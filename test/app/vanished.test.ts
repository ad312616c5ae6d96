// The app and pins whose digest or tag the registry no longer has: said first in the pull request, or in an issue
// when there is nothing to update, closed once every pin names something that exists.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated, push } from "../fixtures/webhooks/payloads.js";
import { deleteManifest, movingTag, pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, startApp, type Harness } from "./harness.js";

describe("the app and vanished pins", () => {
  let reg: TestRegistry;
  let app: Harness;
  let moved: { before: PushedBuild; after: PushedBuild };
  let deleted: PushedBuild;
  let kept: PushedBuild;

  beforeAll(async () => {
    reg = await startRegistry();
    moved = await movingTag(reg, "gone/moved", "1");
    await deleteManifest(reg, "gone/moved", moved.before.digest);
    deleted = await pushBuild(reg, "gone/deleted", "1");
    await deleteManifest(reg, "gone/deleted", deleted.digest);
    kept = await pushBuild(reg, "gone/kept", "1");
  });
  afterAll(() => reg.stop());
  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const pin = (repository: string, digest: string) => `${reg.host}/${repository}:1@${digest}`;

  it("says first in the pull request which pins vanished, and moves the one whose tag still leads somewhere", async () => {
    const repo = { owner: OWNER, name: "moving" };
    app.fake.createRepository(OWNER, repo.name, {
      "deploy.yaml": `a:\n  image: ${pin("gone/moved", moved.before.digest)}\nb:\n  image: ${pin("gone/deleted", deleted.digest)}\n`,
    }, { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    const [pull] = app.fake.pulls(OWNER, repo.name);
    expect(pull).toBeDefined();
    const body = pull!.body!;
    const vanishedAt = body.indexOf("### Vanished from the registry");
    expect(vanishedAt).toBeGreaterThan(0);
    expect(vanishedAt).toBeLessThan(body.indexOf("digesta found a newer digest"));
    expect(body).toMatch(/gone\/moved:1@sha256:[0-9a-f]{12}<\/code> \(digest gone\)/);
    expect(body).toMatch(/gone\/deleted:1@sha256:[0-9a-f]{12}<\/code> \(tag and digest gone\)/);
    expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy.yaml"]).toContain(pin("gone/moved", moved.after.digest));
    // Said in the pull request: no issue besides.
    expect(app.fake.issues(OWNER, repo.name)).toEqual([]);
  });

  it("opens an issue when there is nothing to update, keeps one, and closes it once the pin is fixed", async () => {
    const repo = { owner: OWNER, name: "stuck" };
    app.fake.createRepository(OWNER, repo.name, {
      "deploy.yaml": `image: ${pin("gone/deleted", deleted.digest)}\nother: ${pin("gone/kept", kept.digest)}\n`,
    }, { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));

    expect(app.fake.pulls(OWNER, repo.name)).toEqual([]);
    const issues = app.fake.issues(OWNER, repo.name);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ title: "digesta: pinned images vanished from their registry", state: "open" });
    expect(issues[0]!.body).toContain("<code>deploy.yaml:1</code>");
    expect(issues[0]!.body).toMatch(/neither the tag nor the pinned digest/);

    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
    expect(app.fake.issues(OWNER, repo.name)).toHaveLength(1);

    const before = app.fake.branchHead(OWNER, repo.name, "main")!;
    const after = app.fake.commit(OWNER, repo.name, { "deploy.yaml": `image: ${pin("gone/kept", kept.digest)}\n` });
    await app.receive(push(INSTALLATION, repo, "main", before, after));
    expect(app.fake.issues(OWNER, repo.name)).toEqual([expect.objectContaining({ state: "closed" })]);
    expect(app.fake.comments(OWNER, repo.name, issues[0]!.number)[0]!.body).toContain("Every pin names an image the registry has");
  });
});
