// Keyless verification against a Sigstore of the test's own (CA, transparency log, trusted root), with bundles pushed
// to the real registry as OCI referrers (docker-registry has no referrers API: the sha256-<hex> tag index stands in,
// as OCI 1.1 clients write it) and keyless cosign `.sig` signatures. Every way a bundle can be wrong is tried.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Digest } from "../../src/reference/types.js";
import { MediaType } from "../../src/registry/types.js";
import { COSIGN_SIGNATURE_ANNOTATION, cosignSignatureTag } from "../../src/verify/cosign.js";
import { SIMPLE_SIGNING, simpleSigningPayload } from "../support/cosign.js";
import { stringify } from "yaml";
import { pushBlob, pushBuild, pushManifest, pushReferrer, pushReferrersTagIndex, type PushedBuild } from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";
import { runCli } from "../support/cli.js";
import { attachBundles, BUNDLE_MEDIA_TYPE, cosignKeylessLayer, dsseBundle, messageBundle, TestCa, TestLog, trustedRoot, type BundleSpec } from "../support/sigstore.js";

const IDENTITY = "https://github.com/acme/images/.github/workflows/release.yaml@refs/heads/main";
const ISSUER = "https://token.actions.githubusercontent.com";

let reg: TestRegistry;
let dir: string;
let rootFile: string;
const ca = new TestCa();
const log = new TestLog();
const previousDockerConfig = process.env["DOCKER_CONFIG"];
let counter = 0;

beforeAll(async () => {
  process.env["DOCKER_CONFIG"] = "/nonexistent/digesta-verify-keyless-test";
  reg = await startRegistry();
  dir = await mkdtemp(path.join(tmpdir(), "digesta-verify-keyless-"));
  rootFile = path.join(dir, "trusted_root.json");
  await writeFile(rootFile, JSON.stringify(trustedRoot(ca, log)));
});

afterAll(async () => {
  if (previousDockerConfig === undefined) delete process.env["DOCKER_CONFIG"];
  else process.env["DOCKER_CONFIG"] = previousDockerConfig;
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh image, and the bundles `make` builds for it pushed as its referrers. */
async function imageWithBundles(make: (image: PushedBuild, repository: string) => Record<string, unknown>[]): Promise<{ image: PushedBuild; ref: string }> {
  const repository = `keyless/image-${++counter}`;
  const image = await pushBuild(reg, repository, "1");
  await attachBundles(reg, repository, image, make(image, repository));
  return { image, ref: `${reg.host}/${repository}@${image.digest}` };
}

const bundleFor = (image: PushedBuild, repository: string, spec: Partial<BundleSpec> = {}) =>
  dsseBundle({ subject: image.digest, subjectName: `${reg.host}/${repository}`, certificate: ca.issue({ identity: IDENTITY, issuer: ISSUER }), log, ...spec });

const verify = (ref: string, ...flags: string[]) =>
  runCli("verify", ref, "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER, "--trusted-root", rootFile, ...flags);

describe("keyless verification", () => {
  it("verifies a Sigstore bundle found through the referrers: identity, issuer, and the signed name shown", async () => {
    const { ref, image } = await imageWithBundles((img, repo) => [bundleFor(img, repo)]);
    const run = await verify(ref);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`verified\t${ref}\tby identity ${IDENTITY} (issuer ${ISSUER})\tsigned as ${ref.slice(0, ref.indexOf("@"))}\n`);
    expect(run.code).toBe(0);
    // An unanchored regular expression, as cosign's --certificate-identity-regexp.
    const regexp = await runCli("verify", ref, "--certificate-identity-regexp", "github\\.com/acme/", "--certificate-oidc-issuer", ISSUER, "--trusted-root", rootFile);
    expect(regexp.code).toBe(0);
    expect(image.digest).toMatch(/^sha256:/);
  });

  it("verifies a message-signature bundle over the image manifest, and refuses one over another manifest", async () => {
    const certificate = () => ca.issue({ identity: IDENTITY, issuer: ISSUER });
    const { ref } = await imageWithBundles((img) => [messageBundle({ artifact: Buffer.from(img.images[0]!.bytes), certificate: certificate(), log })]);
    const run = await verify(ref);
    expect(run.stdout).toBe(`verified\t${ref}\tby identity ${IDENTITY} (issuer ${ISSUER})\n`);
    expect(run.code).toBe(0);
    const other = await pushBuild(reg, "keyless/other-manifest", "1", { generation: 9 });
    const copied = await imageWithBundles(() => [messageBundle({ artifact: Buffer.from(other.images[0]!.bytes), certificate: certificate(), log })]);
    const refused = await verify(copied.ref);
    expect(refused.stdout).toContain(`the signature is over ${other.digest}, not this image`);
    expect(refused.code).toBe(1);
  });

  it("finds the valid bundle among invalid ones", async () => {
    const stranger = new TestCa("stranger");
    const { ref } = await imageWithBundles((img, repo) => [
      bundleFor(img, repo, { certificate: stranger.issue({ identity: IDENTITY, issuer: ISSUER }) }),
      bundleFor(img, repo),
    ]);
    expect((await verify(ref)).code).toBe(0);
  });

  it("verifies a keyless cosign .sig signature (certificate and Rekor bundle annotations)", async () => {
    const repository = `keyless/cosign-${++counter}`;
    const image = await pushBuild(reg, repository, "1");
    const payload = simpleSigningPayload(image.digest, `${reg.host}/${repository}`);
    const layer = cosignKeylessLayer(payload, ca.issue({ identity: IDENTITY, issuer: ISSUER }), log);
    const blob = await pushBlob(reg, repository, payload);
    const config = await pushBlob(reg, repository, "{}");
    await pushManifest(
      reg,
      repository,
      {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
        layers: [{ mediaType: SIMPLE_SIGNING, digest: blob.digest, size: blob.size, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: layer.signature, ...layer.annotations } }],
      },
      MediaType.OciManifest,
      cosignSignatureTag(image.digest),
    );
    const run = await verify(`${reg.host}/${repository}@${image.digest}`);
    expect(run.stdout).toMatch(/^verified\t.*\tby identity https:\/\/github\.com\/acme\/images\/.*\tsigned as /);
    expect(run.code).toBe(0);
  });

  it("--certificate-oidc-issuer-regexp and issuerRegexp match the issuer by pattern (unanchored, as cosign)", async () => {
    const { ref } = await imageWithBundles((img, repo) => [bundleFor(img, repo)]);
    const run = await runCli("verify", ref, "--certificate-identity", IDENTITY, "--certificate-oidc-issuer-regexp", "token\\.actions\\.githubusercontent", "--trusted-root", rootFile);
    expect(run.stdout).toBe(`verified\t${ref}\tby identity ${IDENTITY} (issuer ${ISSUER})\tsigned as ${ref.slice(0, ref.indexOf("@"))}\n`);
    expect(run.code).toBe(0);
    const file = path.join(dir, "issuer-both.yml");
    await writeFile(file, stringify({ images: [{ match: "**", identity: IDENTITY, issuer: ISSUER, issuerRegexp: "x(" }] }));
    const both = await runCli("verify", ref, "--verify-config", file, "--trusted-root", rootFile);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("images[0].issuerRegexp: give `issuer` or `issuerRegexp`, not both");
    expect(both.stderr).toContain("images[0].issuerRegexp: not a regular expression");
  });

  describe("refusals", () => {
    const refused = async (make: (image: PushedBuild, repository: string) => Record<string, unknown>[], reason: RegExp, ...flags: string[]) => {
      const { ref } = await imageWithBundles(make);
      const run = flags.length > 0 ? await runCli("verify", ref, "--trusted-root", rootFile, ...flags) : await verify(ref);
      expect(run.stdout).toMatch(/^signature invalid\t/);
      expect(run.stdout).toMatch(reason);
      expect(run.code).toBe(1);
    };

    it("another identity", () =>
      refused((img, repo) => [bundleFor(img, repo, { certificate: ca.issue({ identity: "https://github.com/evil/fork/.github/workflows/x.yaml@refs/heads/main", issuer: ISSUER }) })], /signed by identity https:\/\/github\.com\/evil\/fork/));

    it("a regular expression the identity does not match", () =>
      refused((img, repo) => [bundleFor(img, repo)], /not identity \/\^https:\\\/\\\/github\\\.com\\\/other\\\/\//, "--certificate-identity-regexp", "^https:\\/\\/github\\.com\\/other\\/", "--certificate-oidc-issuer", ISSUER));

    it("an OIDC issuer the issuer pattern does not match", () =>
      refused(
        (img, repo) => [bundleFor(img, repo, { certificate: ca.issue({ identity: IDENTITY, issuer: "https://token.actions.githubusercontent.com.evil.test" }) })],
        /\(issuer https:\/\/token\.actions\.githubusercontent\.com\.evil\.test\), not identity .* \(issuer \/\^https:\\\/\\\/token\\\.actions\\\.githubusercontent\\\.com\$\/\)/,
        "--certificate-identity", IDENTITY, "--certificate-oidc-issuer-regexp", "^https:\\/\\/token\\.actions\\.githubusercontent\\.com$",
      ));

    it("another OIDC issuer", () =>
      refused((img, repo) => [bundleFor(img, repo, { certificate: ca.issue({ identity: IDENTITY, issuer: "https://accounts.google.com" }) })], /\(issuer https:\/\/accounts\.google\.com\), not identity/));

    it("a certificate of the right CA and identity, issued for TLS servers rather than code signing", () =>
      refused(
        (img, repo) => [bundleFor(img, repo, { certificate: ca.issue({ identity: IDENTITY, issuer: ISSUER, extendedKeyUsage: "1.3.6.1.5.5.7.3.1" }) })],
        /not issued for code signing/,
      ));

    it("a certificate from a CA the trusted root does not name", () =>
      refused((img, repo) => [bundleFor(img, repo, { certificate: new TestCa("impostor").issue({ identity: IDENTITY, issuer: ISSUER }) })], /CERTIFICATE_ERROR/));

    it("a valid bundle for another digest, attached to this image", async () => {
      const other = await pushBuild(reg, "keyless/other", "1");
      await refused((img, repo) => [bundleFor(img, repo, { subject: other.digest as Digest })], /about other digests, not this image/);
    });

    it("a statement changed after it was signed", () => refused((img, repo) => [bundleFor(img, repo, { tamper: true })], /TLOG_BODY_ERROR|SIGNATURE_ERROR/));

    it("no transparency-log entry", () => refused((img, repo) => [bundleFor(img, repo, { tlog: false })], /expected 1 (tlog entries|timestamps)/));

    it("an inclusion proof that does not lead to the checkpoint's root", () =>
      refused((img, repo) => [bundleFor(img, repo, { tlog: { badProof: true } })], /TLOG_INCLUSION_PROOF_ERROR: calculated root hash does not match/));

    it("a log entry signed by a log the trusted root does not name", () =>
      refused((img, repo) => [bundleFor(img, repo, { log: new TestLog() })], /TLOG_INCLUSION_(PROMISE|PROOF)_ERROR/));

    it("an expired certificate: the log integrated the entry after the certificate's last day", () =>
      refused(
        (img, repo) => [
          bundleFor(img, repo, {
            certificate: ca.issue({ identity: IDENTITY, issuer: ISSUER, notBefore: new Date(Date.now() - 3 * 3_600_000), notAfter: new Date(Date.now() - 2 * 3_600_000) }),
          }),
        ],
        /CERTIFICATE_ERROR.*(expired|not valid)/,
      ));

    it("with the public-good trusted root (the default, offline), a certificate of the test's CA does not verify", async () => {
      const { ref } = await imageWithBundles((img, repo) => [bundleFor(img, repo)]);
      const run = await runCli("verify", ref, "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER);
      expect(run.stdout).toMatch(/^signature invalid\t.*(CERTIFICATE_ERROR|TLOG)/);
      expect(run.code).toBe(1);
    });
  });

  it("not signed when nothing refers to the image; exit 2 for a trusted root that is not one, or a keyless rule without issuer", async () => {
    const { ref } = await imageWithBundles(() => []);
    const unsigned = await verify(ref);
    expect(unsigned.stdout).toMatch(/^not signed\t.*no Sigstore bundle/);
    expect(unsigned.code).toBe(1);
    const bad = path.join(dir, "bad-root.json");
    await writeFile(bad, JSON.stringify({ mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", tlogs: [] }));
    const broken = await runCli("verify", ref, "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER, "--trusted-root", bad);
    expect(broken.stdout).toMatch(/^could not check\t.*is not a Sigstore trusted root/);
    expect(broken.code).toBe(2);
    const noIssuer = await runCli("verify", ref, "--certificate-identity", IDENTITY);
    expect(noIssuer.stderr).toMatch(/--certificate-oidc-issuer: a keyless signer needs `issuer`/);
    expect(noIssuer.code).toBe(2);
  });
});

describe("keyless rules in update", () => {
  it("moves the pin whose new digest the identity signed, holds back the one signed by someone else, with --trusted-root", async () => {
    const signedBy = async (repository: string, identity: string) => {
      const before = await pushBuild(reg, repository, "1", { generation: 1 });
      const after = await pushBuild(reg, repository, "1", { generation: 2 });
      const bundle = dsseBundle({ subject: after.digest, subjectName: `${reg.host}/${repository}`, certificate: ca.issue({ identity, issuer: ISSUER }), log });
      const pushed = await pushReferrer(reg, repository, {
        subject: { digest: after.digest, size: after.size, mediaType: after.mediaType },
        artifactType: BUNDLE_MEDIA_TYPE,
        blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, data: JSON.stringify(bundle) }],
      });
      await pushReferrersTagIndex(reg, repository, after.digest, [pushed.descriptor]);
      return { pin: `${reg.host}/${repository}:1@${before.digest}`, moved: `${reg.host}/${repository}:1@${after.digest}` };
    };
    const good = await signedBy("keyless-update/good", IDENTITY);
    const evil = await signedBy("keyless-update/evil", "https://github.com/evil/fork/.github/workflows/release.yaml@refs/heads/main");
    const root = await mkdtemp(path.join(dir, "checkout-"));
    await mkdir(path.join(root, ".github"));
    await writeFile(
      path.join(root, ".github", "digesta.yml"),
      stringify({ verify: { required: true, images: [{ match: `${reg.host}/keyless-update/*`, identityRegexp: "^https://github\\.com/acme/", issuer: ISSUER }] } }),
    );
    await writeFile(path.join(root, "deploy.yaml"), `a: ${good.pin}\nb: ${evil.pin}\n`);
    const run = await runCli("update", "--no-diff", "--trusted-root", rootFile, root);
    expect(run.code).toBe(0);
    expect(await readFile(path.join(root, "deploy.yaml"), "utf8")).toBe(`a: ${good.moved}\nb: ${evil.pin}\n`);
    expect(run.stdout).toMatch(new RegExp(`^verified\\t.*keyless-update/good@sha256:[0-9a-f]{64}\\tby identity ${IDENTITY.replace(/[.]/g, "\\.")} \\(issuer`, "m"));
    expect(run.stdout).toMatch(/^held back\t.*keyless-update\/evil:1\tsignature: signature invalid: .*signed by identity https:\/\/github\.com\/evil\/fork/m);
  });
});
