// The app checks the signature of each digest it proposes, as the repository's `verify:` asks, and says so in the
// pull request: the verdict per image, and with `required: true` the digests that did not verify under "Held back".
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ALL_BRANCH } from "../../src/policy/grouping.js";
import { installationCreated } from "../fixtures/webhooks/payloads.js";
import { keyPair, signWithKeys, type TestKey } from "../support/cosign.js";
import { movingTag, type PushedBuild } from "../support/images.js";
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
    expect(section).toMatch(/✅ <code>[^<]*team\/signed@sha256:[0-9a-f]{12}<\/code>: verified by key SHA256:\S+ \(signed as [^)]*team\/signed\)/);
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
    expect(body).toMatch(/### Held back\n- <code>[^<]*team\/unsigned:1<\/code>: signature: not signed: no cosign signature \(new digest sha256:[0-9a-f]{64}\)/);
    expect(body).toMatch(/✅ <code>[^<]*team\/signed@/);
    const deploy = app.fake.files(OWNER, repo.name, ALL_BRANCH)["deploy.yaml"]!;
    expect(deploy).toContain(signed.after.digest);
    expect(deploy).toContain(unsigned.before.digest);
  });
});
