// The app checks the signature of each digest it proposes, as the repository's `verify:` asks, and says so in the
// pull request: the verdict per image, and with `required: true` the digests that did not verify under "Held back".
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { createSessionFactory } from "../../src/app/registry-setup.js";
import { ALL_BRANCH, PIN_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated } from "../fixtures/webhooks/payloads.js";
import { keyPair, signWithKeys, type TestKey } from "../support/cosign.js";
import { movingTag, pushReferrer, pushReferrersTagIndex, type PushedBuild } from "../support/images.js";
import { BUNDLE_MEDIA_TYPE, dsseBundle, TestCa, TestLog, trustedRoot } from "../support/sigstore.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { INSTALLATION, OWNER, startApp, type Harness } from "./harness.js";

describe("the app and signatures", () => {
  let reg: TestRegistry;
  let app: Harness;
  let dir: string;
  let signer: TestKey;
  let signed: { before: PushedBuild; after: PushedBuild };
  let unsigned: { before: PushedBuild; after: PushedBuild };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await mkdtemp(path.join(tmpdir(), "digesta-app-signatures-"));
    signer = await keyPair(dir, "signer", "ec", "secp384r1");
    signed = await movingTag(reg, "team/signed", "1");
    unsigned = await movingTag(reg, "team/unsigned", "1");
    await signWithKeys(reg, "team/signed", signed.after.digest, [signer]);
  });
  afterAll(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    app = await startApp(reg);
  });
  afterEach(() => app.close());

  const files = (required: boolean) => ({
    ".github/digesta.yml": stringify({ verify: { required, images: [{ match: `${reg.host}/team/**`, key: signer.pem }] } }),
    "deploy.yaml": `a:\n  image: ${reg.host}/team/signed:1@${signed.before.digest}\nb:\n  image: ${reg.host}/team/unsigned:1@${unsigned.before.digest}\n`,
  });

  it("shows each proposed image's verdict in the pull request", async () => {
    const repo = { owner: OWNER, name: "shown" };
    app.fake.createRepository(OWNER, repo.name, files(false), { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.pulls(OWNER, repo.name);
    const body = pull!.body!;
    const section = body.slice(body.indexOf("### Signatures"));
    expect(body).toContain("### Signatures");
    expect(section).toMatch(/✅ <code>[^<]*team\/signed@sha256:[0-9a-f]{12}<\/code>: verified by <code>key SHA256:[^<]+<\/code> \(signed as <code>[^<]*team\/signed<\/code>\)/);
    expect(section).toMatch(/❌ <code>[^<]*team\/unsigned@sha256:[0-9a-f]{12}<\/code>: not signed: no cosign signature/);
    expect(body).not.toContain("### Held back");
    const deploy = app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy.yaml"]!;
    expect(deploy).toContain(signed.after.digest);
    expect(deploy).toContain(unsigned.after.digest);
  });

  it("with required: true, proposes only the verified digest and holds the other back, saying why", async () => {
    const repo = { owner: OWNER, name: "required" };
    app.fake.createRepository(OWNER, repo.name, files(true), { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.pulls(OWNER, repo.name);
    const body = pull!.body!;
    expect(body).toMatch(/### Held back\n- <code>[^<]*team\/unsigned:1<\/code>: signature: not signed: no cosign signature and no Sigstore bundle among the referrers \(new digest sha256:[0-9a-f]{64}\)/);
    expect(body).toMatch(/✅ <code>[^<]*team\/signed@/);
    const deploy = app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy.yaml"]!;
    expect(deploy).toContain(signed.after.digest);
    expect(deploy).toContain(unsigned.before.digest);
  });

  it("with pin: true and required: true, pins a tag to its digest only when that digest verifies, saying why not", async () => {
    const repo = { owner: OWNER, name: "pinning" };
    app.fake.createRepository(OWNER, repo.name, {
      ".github/digesta.yml": stringify({ pin: true, verify: { required: true, images: [{ match: `${reg.host}/team/**`, key: signer.pem }] } }),
      "deploy.yaml": `a:\n  image: ${reg.host}/team/signed:1\nb:\n  image: ${reg.host}/team/unsigned:1\n`,
    }, { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const pull = app.fake.pulls(OWNER, repo.name).find((p) => p.head === PIN_BRANCH)!;
    expect(pull.title).toBe("Pin 1 image by digest");
    // The same sections as the update pull request: each pinned digest's verdict, and what did not verify held back.
    expect(pull.body).toMatch(/### Signatures\n- ✅ <code>[^<]*team\/signed@sha256:[0-9a-f]{12}<\/code>: verified by <code>key SHA256:[^<]+<\/code> \(signed as <code>[^<]*team\/signed<\/code>\)\n/);
    expect(pull.body).toMatch(/### Held back\n- <code>[^<]*team\/unsigned:1<\/code>: signature: not signed: no cosign signature and no Sigstore bundle among the referrers \(digest sha256:[0-9a-f]{64}\)\n/);
    expect(pull.body).not.toContain("### Could not look up");
    expect(app.fake.files(OWNER, repo.name, PIN_BRANCH)["deploy.yaml"]).toBe(
      `a:\n  image: ${reg.host}/team/signed:1@${signed.after.digest}\nb:\n  image: ${reg.host}/team/unsigned:1\n`,
    );
  });

  it("with pin: true and verification not required, pins every tag and shows each digest's verdict", async () => {
    const repo = { owner: OWNER, name: "pin-shown" };
    app.fake.createRepository(OWNER, repo.name, {
      ".github/digesta.yml": stringify({ pin: true, verify: { images: [{ match: `${reg.host}/team/**`, key: signer.pem }] } }),
      "deploy.yaml": `a:\n  image: ${reg.host}/team/signed:1\nb:\n  image: ${reg.host}/team/unsigned:1\n`,
    }, { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const pull = app.fake.pulls(OWNER, repo.name).find((p) => p.head === PIN_BRANCH)!;
    expect(pull.title).toBe("Pin 2 images by digest");
    const section = pull.body!.slice(pull.body!.indexOf("### Signatures"));
    expect(section).toMatch(/^### Signatures\n(- .*\n){2}\n/);
    expect(section).toMatch(/✅ <code>[^<]*team\/signed@sha256:[0-9a-f]{12}<\/code>: verified by <code>key SHA256:/);
    expect(section).toMatch(/❌ <code>[^<]*team\/unsigned@sha256:[0-9a-f]{12}<\/code>: not signed: no cosign signature/);
    expect(pull.body).not.toContain("### Held back");
  });

  it("verifies keyless signatures against the operator's trusted root (DIGESTA_TRUSTED_ROOT)", async () => {
    const ca = new TestCa();
    const log = new TestLog();
    const rootFile = path.join(dir, "trusted_root.json");
    await writeFile(rootFile, JSON.stringify(trustedRoot(ca, log)));
    const identity = "https://github.com/acme/images/.github/workflows/release.yaml@refs/heads/main";
    const issuer = "https://token.actions.githubusercontent.com";
    const keyless = await movingTag(reg, "acme/keyless", "1");
    const bundle = dsseBundle({ subject: keyless.after.digest, subjectName: `${reg.host}/acme/keyless`, certificate: ca.issue({ identity, issuer }), log });
    const pushed = await pushReferrer(reg, "acme/keyless", {
      subject: { digest: keyless.after.digest, size: keyless.after.size, mediaType: keyless.after.mediaType },
      artifactType: BUNDLE_MEDIA_TYPE,
      blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, data: JSON.stringify(bundle) }],
    });
    await pushReferrersTagIndex(reg, "acme/keyless", keyless.after.digest, [pushed.descriptor]);

    await app.close();
    app = await startApp(reg, {
      createSession: createSessionFactory({ allowPrivateRegistries: [reg.host], retries: 1, backoff: { baseMs: 1, maxMs: 5 }, trustedRoot: rootFile }),
    });
    const repo = { owner: OWNER, name: "keyless" };
    app.fake.createRepository(OWNER, repo.name, {
      ".github/digesta.yml": stringify({ verify: { required: true, images: [{ match: `${reg.host}/acme/*`, identity, issuer }] } }),
      "deploy.yaml": `image: ${reg.host}/acme/keyless:1@${keyless.before.digest}\n`,
    }, { installationId: INSTALLATION });
    await app.receive(installationCreated(INSTALLATION, OWNER, [repo]));
    const [pull] = app.fake.pulls(OWNER, repo.name);
    expect(pull!.body).toMatch(/✅ <code>[^<]*acme\/keyless@sha256:[0-9a-f]{12}<\/code>: verified by <code>identity https:\/\/github\.com\/acme\/images\/\.github\/workflows\/release\.yaml@refs\/heads\/main \(issuer https:\/\/token\.actions\.githubusercontent\.com\)<\/code> \(signed as <code>[^<]*acme\/keyless<\/code>\)/);
    expect(app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy.yaml"]).toContain(keyless.after.digest);
  });
});
