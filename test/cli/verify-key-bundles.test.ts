// Key rules read Sigstore bundles signed with that key (`cosign sign --key … --new-bundle-format`): public-key material
// instead of a certificate, found through the OCI referrers (the sha256-<hex> tag index on docker-registry), with keys
// and bundles the test makes. Every way such a bundle can be wrong is tried.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { keyPair, signWithKeys, type TestKey } from "../support/cosign.js";
import { movingTag, pushBuild, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";
import { attachBundles, BUNDLE_MEDIA_TYPE, dsseBundle, keyBundle, TestCa, TestLog, type KeyBundleSpec } from "../support/sigstore.js";

let reg: TestRegistry;
let dir: string;
const keys: Record<string, TestKey> = {};
const previousDockerConfig = process.env["DOCKER_CONFIG"];
let counter = 0;

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-verify-key-bundles-test";
  reg = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), "digesta-verify-key-bundles-"));
  keys["p256"] = await keyPair(dir, "p256", "ec");
  keys["p384"] = await keyPair(dir, "p384", "ec", "secp384r1");
  keys["rsa"] = await keyPair(dir, "rsa", "rsa");
  keys["ed25519"] = await keyPair(dir, "ed25519", "ed25519");
  keys["other"] = await keyPair(dir, "other", "ec");
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh image with the bundles `make` builds for it; its reference by digest. */
async function imageWithBundles(make: (image: PushedBuild, repository: string) => Record<string, unknown>[]): Promise<{ image: PushedBuild; ref: string; repository: string }> {
  const repository = `keybundle/image-${++counter}`;
  const image = await pushBuild(reg, repository, "1");
  await attachBundles(reg, repository, image, make(image, repository));
  return { image, ref: `${reg.host}/${repository}@${image.digest}`, repository };
}

const signedBy = (key: TestKey, image: PushedBuild, repository: string, spec: Partial<KeyBundleSpec> = {}) =>
  keyBundle({ subject: image.digest, subjectName: `${reg.host}/${repository}`, key, ...spec });

describe("key rules and key-signed Sigstore bundles", () => {
  it.each(["p256", "p384", "rsa", "ed25519"])("verifies a DSSE bundle signed with a %s key, showing the signed name", async (kind) => {
    const { ref } = await imageWithBundles((img, repo) => [signedBy(keys[kind]!, img, repo)]);
    const run = await runCli("verify", ref, "--key", keys[kind]!.file);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(new RegExp(`^verified\\t${ref}\\tby key SHA256:[A-Za-z0-9+/]{43}\\tsigned as ${ref.slice(0, ref.indexOf("@"))}\\n$`));
    expect(run.code).toBe(0);
  });

  it("verifies a message signature over the manifest, and a bundle that carries a transparency-log entry", async () => {
    const manifest = await imageWithBundles((img) => [keyBundle({ subject: img.digest, key: keys["p256"]!, manifest: Buffer.from(img.images[0]!.bytes) })]);
    const m = await runCli("verify", manifest.ref, "--key", keys["p256"]!.file);
    // No name is signed in a message signature: none is shown.
    expect(m.stdout).toMatch(new RegExp(`^verified\\t${manifest.ref}\\tby key SHA256:\\S+\\n$`));
    expect(m.code).toBe(0);
    const logged = await imageWithBundles((img, repo) => [signedBy(keys["p256"]!, img, repo, { log: new TestLog() })]);
    expect((await runCli("verify", logged.ref, "--key", keys["p256"]!.file)).code).toBe(0);
  });

  it("does not trust the hint to pick the key: the rule's key must verify, whatever the hint names", async () => {
    const { ref } = await imageWithBundles((img, repo) => [signedBy(keys["other"]!, img, repo, { hint: Buffer.from("p256").toString("base64") })]);
    const run = await runCli("verify", ref, "--key", keys["p256"]!.file);
    expect(run.stdout).toMatch(/^signature invalid\t.*no signature verifies with SHA256:/);
    expect(run.code).toBe(1);
  });

  it("finds the bundle signed with the key among others, and beside a .sig signature by another key", async () => {
    const { ref, image, repository } = await imageWithBundles((img, repo) => [signedBy(keys["other"]!, img, repo), signedBy(keys["p256"]!, img, repo)]);
    await signWithKeys(reg, repository, image.digest, [keys["other"]!]);
    const run = await runCli("verify", ref, "--key", keys["p256"]!.file);
    expect(run.stdout).toMatch(/^verified\t/);
  });

  describe("refusals", () => {
    const refused = async (make: (image: PushedBuild, repository: string) => Record<string, unknown>[], reason: RegExp) => {
      const { ref } = await imageWithBundles(make);
      const run = await runCli("verify", "--json", ref, "--key", keys["p256"]!.file);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: "invalid", reason: expect.stringMatching(reason) });
      expect(run.code).toBe(1);
    };

    it("a statement changed after signing", () => refused((img, repo) => [signedBy(keys["p256"]!, img, repo, { tamper: true })], /no signature verifies with/));

    it("a valid bundle about another image (copied from it)", async () => {
      const other = await pushBuild(reg, "keybundle/other", "1", { generation: 7 });
      await refused((img, repo) => [signedBy(keys["p256"]!, img, repo, { subject: other.digest })], /the statement is about other digests, not this image/);
    });

    it("a message signature over another manifest", async () => {
      const other = await pushBuild(reg, "keybundle/other", "2", { generation: 8 });
      await refused(
        (img) => [keyBundle({ subject: img.digest, key: keys["p256"]!, manifest: Buffer.from(other.images[0]!.bytes) })],
        new RegExp(`the signature is over ${other.digest}, not this image`),
      );
    });

    it("a message signature over this very manifest, by another key", () =>
      refused((img) => [keyBundle({ subject: img.digest, key: keys["other"]!, manifest: Buffer.from(img.images[0]!.bytes) })], /no signature verifies with/));

    it("a keyless bundle (a certificate, not a key), even one whose certificate key is not the rule's", async () => {
      const ca = new TestCa();
      const certificate = ca.issue({ identity: "https://example.test/signer", issuer: "https://issuer.example.test" });
      await refused((img) => [dsseBundle({ subject: img.digest, certificate, log: new TestLog() })], /signed with a certificate \(keyless\), not with a key/);
    });

    it("a bundle that is not one", () => refused(() => [{ mediaType: BUNDLE_MEDIA_TYPE, verificationMaterial: { publicKey: { hint: "x" } } }], /not a Sigstore bundle/));
  });

  it("says not signed only when there is neither a .sig signature nor a bundle", async () => {
    const image = await pushBuild(reg, "keybundle/bare", "1");
    const run = await runCli("verify", `${reg.host}/keybundle/bare@${image.digest}`, "--key", keys["p256"]!.file);
    expect(run.stdout).toMatch(/^not signed\t.*\tno cosign signature and no Sigstore bundle among the referrers\n$/);
    expect(run.code).toBe(1);
  });

  it("update proposes, and with required: true pins, a digest signed only by a key-signed bundle", async () => {
    const moved = await movingTag(reg, "keybundle/app", "1");
    await attachBundles(reg, "keybundle/app", moved.after, [keyBundle({ subject: moved.after.digest, subjectName: `${reg.host}/keybundle/app`, key: keys["p256"]! })]);
    const root = await mkdtemp(path.join(dir, "checkout-"));
    const rules = stringify({ verify: { required: true, images: [{ match: `${reg.host}/keybundle/**`, key: keys["p256"]!.pem }] } });
    await writeFile(path.join(root, "rules.yml"), rules);
    await writeFile(path.join(root, "deploy.yaml"), `a:\n  image: ${reg.host}/keybundle/app:1@${moved.before.digest}\nb:\n  image: ${reg.host}/keybundle/app:1\n`);
    const update = await runCli("update", "--no-diff", "--no-config", "--verify-config", path.join(root, "rules.yml"), root);
    expect(update.stdout).toMatch(/^verified\t.*keybundle\/app@sha256:[0-9a-f]{64}\tby key SHA256:/m);
    expect(update.code).toBe(0);
    const pin = await runCli("pin", "--no-config", "--verify-config", path.join(root, "rules.yml"), root);
    expect(pin.code).toBe(0);
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toBe(
      `a:\n  image: ${reg.host}/keybundle/app:1@${moved.after.digest}\nb:\n  image: ${reg.host}/keybundle/app:1@${moved.after.digest}\n`,
    );
  });
});
