import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ALL_BRANCH, PIN_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated } from "../fixtures/webhooks/payloads.js";
import { MediaType } from "../../src/registry/types.js";
import { inTotoStatement, pushBuild, pushCosignAttestation, pushReferrer, pushReferrersTagIndex, type PushedBuild } from "../support/images.js";
import { cyclonedxDocument, sigstoreBundle, spdxDocument } from "../support/package-dbs.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { DOWN_REGISTRY, INSTALLATION, OWNER, pushApkBuild, startApp, type Harness } from "./harness.js";

// `pin: true`: the app's pull request pinning references written with a tag and no digest, against the GitHub fake
// and a real registry.

describe("the pin pull request (pin: true)", () => {
  let reg: TestRegistry;
  let app: Harness;
  let web: PushedBuild;
  let worker: { v1: PushedBuild; v2: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    web = await pushApkBuild(reg, "team/web", "1", 1, [
      { name: "busybox", version: "1.36.1-r5" },
      { name: "musl", version: "1.2.5-r0" },
    ]);
    worker = { v1: await pushBuild(reg, "team/worker", "stable", { generation: 1 }), v2: await pushBuild(reg, "team/worker", "stable", { generation: 2 }) };
  });
  afterAll(() => reg.stop());
  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const REPO = "service";
  const files = (config: string) => ({
    ".github/digesta.yml": config,
    "Dockerfile": `FROM ${reg.host}/team/web:1 AS build\nFROM build\nRUN true\n`,
    "deploy/app.yaml": `containers:\n  - image: ${reg.host}/team/web:1   # the web tier\n  - image: "\${IMAGE}"\n  - image: ${reg.host}/team/worker:stable@${worker.v1.digest}\n`,
    "deploy/batch.yaml": `image: ${reg.host}/team/worker:stable\n`,
  });

  async function run(): Promise<void> {
    await app.digesta.sweep({ force: true });
    await app.digesta.idle();
  }

  const pinPull = () => app.fake.pulls(OWNER, REPO).find((p) => p.head === PIN_BRANCH);
  const updatePull = () => app.fake.pulls(OWNER, REPO).find((p) => p.head === ALL_BRANCH);

  it("opens one pull request pinning every unpinned reference, beside the update pull request, byte for byte", async () => {
    app.fake.createRepository(OWNER, REPO, files("pin: true\n"), { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [{ owner: OWNER, name: REPO }]));

    const pull = pinPull()!;
    expect(pull).toMatchObject({ state: "open", title: "Pin 2 images by digest", author: app.fake.botLogin });
    const pinned = app.fake.files(OWNER, REPO, PIN_BRANCH);
    expect(pinned["Dockerfile"]).toBe(`FROM ${reg.host}/team/web:1@${web.digest} AS build\nFROM build\nRUN true\n`);
    expect(pinned["deploy/app.yaml"]).toBe(
      `containers:\n  - image: ${reg.host}/team/web:1@${web.digest}   # the web tier\n  - image: "\${IMAGE}"\n  - image: ${reg.host}/team/worker:stable@${worker.v1.digest}\n`,
    );
    expect(pinned["deploy/batch.yaml"]).toBe(`image: ${reg.host}/team/worker:stable@${worker.v2.digest}\n`);
    expect(app.fake.commitsAhead(OWNER, REPO, PIN_BRANCH)).toHaveLength(1);

    // The body: each image with its digest and places, what was not pinnable, and the package contents.
    expect(pull.body).toContain(web.digest);
    expect(pull.body).toContain("<code>Dockerfile:1</code><br><code>deploy/app.yaml:2</code>");
    expect(pull.body).toContain("### Not pinned as written");
    expect(pull.body).toContain("### Package contents");
    expect(pull.body).toMatch(/team\/web:1<\/code>: 2 packages \(apk/);
    expect(pull.body).toContain("musl");
    expect(pull.body).toContain("1.2.5-r0");

    // The stale pin has its own pull request, which the pin pull request does not touch.
    expect(updatePull()).toMatchObject({ state: "open" });
    expect(app.fake.files(OWNER, REPO, ALL_BRANCH)["deploy/app.yaml"]).toContain(`${reg.host}/team/worker:stable@${worker.v2.digest}`);
    expect(app.fake.files(OWNER, REPO, ALL_BRANCH)["deploy/batch.yaml"]).toBe(`image: ${reg.host}/team/worker:stable\n`);
  });

  it("proposes no pins unless the configuration asks", async () => {
    app.fake.createRepository(OWNER, REPO, files("labels: [deps]\n"), { installationId: INSTALLATION });
    await run();
    expect(pinPull()).toBeUndefined();
    expect(app.fake.branches(OWNER, REPO)).not.toContain(PIN_BRANCH);
  });

  it("keeps its pull request up to date in place when a tag moves, and closes nothing else", async () => {
    app.fake.createRepository(OWNER, REPO, files("pin: true\n"), { installationId: INSTALLATION });
    await run();
    const first = pinPull()!;
    const update = updatePull()!;
    const v3 = await pushBuild(reg, "team/worker", "stable", { generation: 3 });
    try {
      await run();
      expect(app.fake.pulls(OWNER, REPO)).toHaveLength(2);
      expect(pinPull()).toMatchObject({ number: first.number, state: "open" });
      expect(app.fake.files(OWNER, REPO, PIN_BRANCH)["deploy/batch.yaml"]).toBe(`image: ${reg.host}/team/worker:stable@${v3.digest}\n`);
      expect(pinPull()!.body).toContain(v3.digest);
      expect(updatePull()).toMatchObject({ number: update.number, state: "open" });
      expect(app.fake.commitsAhead(OWNER, REPO, PIN_BRANCH)).toHaveLength(1);
    } finally {
      await pushBuild(reg, "team/worker", "stable", { generation: 2 });
    }
  });

  it("opens no new pin pull request once its pins are merged", async () => {
    app.fake.createRepository(OWNER, REPO, files("pin: true\n"), { installationId: INSTALLATION });
    await run();
    app.fake.merge(OWNER, REPO, pinPull()!.number);
    await run();
    expect(app.fake.pulls(OWNER, REPO).filter((p) => p.head === PIN_BRANCH)).toHaveLength(1);
    expect(pinPull()).toMatchObject({ state: "closed", merged: true });
    expect(updatePull()).toMatchObject({ state: "open" });
  });

  it("closes its pull request, saying why, when the references were pinned by hand or pin is turned off", async () => {
    app.fake.createRepository(OWNER, REPO, files("pin: true\n"), { installationId: INSTALLATION });
    await run();
    const byHand = pinPull()!.number;
    app.fake.commit(OWNER, REPO, app.fake.files(OWNER, REPO, PIN_BRANCH), { message: "Pin by hand" });
    await run();
    expect(app.fake.comments(OWNER, REPO, byHand).map((c) => c.body)).toEqual([expect.stringMatching(/^Closing: nothing is left to pin/)]);
    expect(updatePull()).toMatchObject({ state: "open" });

    app.fake.commit(OWNER, REPO, { "deploy/more.yaml": `image: ${reg.host}/team/web:1\n` });
    await run();
    const again = app.fake.openPulls(OWNER, REPO).find((p) => p.head === PIN_BRANCH)!;
    expect(again.title).toBe("Pin 1 image by digest");
    app.fake.commit(OWNER, REPO, { ".github/digesta.yml": "pin: false\n" });
    await run();
    expect(app.fake.pulls(OWNER, REPO).find((p) => p.number === again.number)).toMatchObject({ state: "closed" });
    expect(app.fake.comments(OWNER, REPO, again.number).map((c) => c.body)).toEqual([expect.stringContaining("`pin` is off")]);
    expect(updatePull()).toMatchObject({ state: "open" });
  });

  it("lists the packages of images that ship only an SBOM (cosign attestation, or a Sigstore bundle among the referrers)", async () => {
    const attested = await pushBuild(reg, "team/distroless", "1", { generation: 21 });
    await pushCosignAttestation(reg, "team/distroless", attested, [
      { predicateType: "https://spdx.dev/Document", predicate: spdxDocument([{ name: "glibc", version: "2.40-r3" }, { name: "ca-certificates", version: "20241121-r1" }]) },
    ]);
    const referred = await pushBuild(reg, "team/static", "1", { generation: 22 });
    const statement = inTotoStatement(referred, "https://cyclonedx.org/bom", cyclonedxDocument([{ name: "tzdata", version: "2025a-r0" }]));
    const bundle = await pushReferrer(reg, "team/static", {
      subject: referred,
      artifactType: MediaType.SigstoreBundle,
      annotations: { "dev.sigstore.bundle.predicateType": "https://cyclonedx.org/bom" },
      blobs: [{ mediaType: MediaType.SigstoreBundle, data: JSON.stringify(sigstoreBundle(statement)) }],
    });
    await pushReferrersTagIndex(reg, "team/static", referred.digest, [bundle.descriptor]);
    app.fake.createRepository(
      OWNER,
      REPO,
      { ".github/digesta.yml": "pin: true\n", "k8s.yaml": `a:\n  image: ${reg.host}/team/distroless:1\nb:\n  image: ${reg.host}/team/static:1\nc:\n  image: ${reg.host}/team/worker:stable\n` },
      { installationId: INSTALLATION },
    );
    await run();
    const body = pinPull()!.body!;
    const contents = body.slice(body.indexOf("### Package contents"));
    expect(contents).toMatch(/team\/distroless:1<\/code>: 2 packages \(sbom-spdx\)<\/summary>/);
    expect(contents).toContain("| <code>glibc</code> | <code>2.40-r3</code> |");
    expect(contents).toMatch(/team\/static:1<\/code>: 1 package \(sbom-cyclonedx\)<\/summary>/);
    expect(contents).toContain("| <code>tzdata</code> | <code>2025a-r0</code> |");
    // Neither an SBOM nor a package database: unknown, and why.
    expect(contents).toMatch(/team\/worker:stable<\/code>: packages unknown<\/summary>\n\n> no SBOM attestation \(BuildKit, OCI referrers or cosign\)\n> no package database/);
  });

  it("pins what it can look up and lists what it could not", async () => {
    app.fake.createRepository(
      OWNER,
      REPO,
      { ".github/digesta.yml": "pin: true\n", "k8s.yaml": `a:\n  image: ${reg.host}/team/web:1\nb:\n  image: ${DOWN_REGISTRY}/team/gone:1\n` },
      { installationId: INSTALLATION },
    );
    await run();
    const pull = pinPull()!;
    expect(pull.title).toBe("Pin 1 image by digest");
    expect(app.fake.files(OWNER, REPO, PIN_BRANCH)["k8s.yaml"]).toBe(`a:\n  image: ${reg.host}/team/web:1@${web.digest}\nb:\n  image: ${DOWN_REGISTRY}/team/gone:1\n`);
    expect(pull.body).toContain("### Could not look up");
    expect(pull.body).toContain("team/gone:1");
  });
});
