// diffImages against a real registry (distribution on loopback) through the real client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffImages } from "../../src/diff/image-diff.js";
import { renderImageDiffText } from "../../src/diff/markdown.js";
import type { Digest, ImageName } from "../../src/reference/types.js";
import { createRegistryClient, type RegistryClient } from "../../src/registry/client.js";
import { anonymousCredentials } from "../../src/registry/credentials.js";
import { MediaType } from "../../src/registry/types.js";
import {
  descriptorOf,
  file,
  inTotoStatement,
  layer,
  LINUX_AMD64,
  LINUX_ARM64,
  pushBuildkitAttestation,
  pushCosignAttestation,
  pushImage,
  pushIndex,
  pushReferrer,
  pushReferrersTagIndex,
  sha256,
  whiteout,
  type Attestation,
  type Layer,
  type PushedImage,
} from "../support/images.js";
import {
  apkInstalled,
  cyclonedxDocument,
  dpkgParagraph,
  osRelease,
  sigstoreBundle,
  spdxDocument,
  type TestPackage,
} from "../support/package-dbs.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const SPDX = "https://spdx.dev/Document";
const CYCLONEDX = "https://cyclonedx.org/bom/v1.5";

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

const client = (): RegistryClient => createRegistryClient({ credentials: anonymousCredentials, retries: 0, env: {} });
const nameOf = (repository: string): ImageName => ({ registry: reg.host, repository });

const OLD: TestPackage[] = [
  { name: "busybox", version: "1.36.1-r2" },
  { name: "libssl3", version: "3.1.4-r1" },
  { name: "zlib", version: "1.3-r0" },
];
const NEW: TestPackage[] = [
  { name: "busybox", version: "1.36.1-r5" },
  { name: "libssl3", version: "3.2.0-r0" },
  { name: "ca-certificates", version: "20240226-r0" },
];

/** What a diff says changed, compactly. */
function summary(diff: Awaited<ReturnType<typeof diffImages>>) {
  return {
    added: diff.packages.added.map((p) => `${p.name}@${p.version}`),
    removed: diff.packages.removed.map((p) => `${p.name}@${p.version}`),
    changed: diff.packages.changed.map((c) => `${c.name}:${c.previous.version}->${c.current.version}`),
  };
}
const EXPECTED_APK_CHANGE = {
  added: ["ca-certificates@20240226-r0"],
  removed: ["zlib@1.3-r0"],
  changed: ["busybox:1.36.1-r2->1.36.1-r5", "libssl3:3.1.4-r1->3.2.0-r0"],
};

const filler = (tag: string) => layer([file(`usr/share/${tag}/README`, `${tag}\n`.repeat(2000))]);
const apkLayer = (packages: TestPackage[], options: { compression?: "gzip" | "zstd" } = {}) =>
  layer([file("etc/os-release", osRelease("wolfi")), file("lib/apk/db/installed", apkInstalled(packages))], options);

/** An image of `layers`, built at `created`. */
async function image(repository: string, layers: Layer[], created = "2024-01-01T00:00:00Z"): Promise<PushedImage> {
  return pushImage(reg, repository, { layers, created });
}

const blobRequests = (c: RegistryClient): number => c.stats().byKind.blob;

/** The old image (OLD packages, built in January) and the new one (NEW, February), and each beside its packages. */
async function apkImages(repository: string) {
  const before = await image(repository, [await apkLayer(OLD)], "2024-01-01T00:00:00Z");
  const after = await image(repository, [await apkLayer(NEW)], "2024-02-01T00:00:00Z");
  const sides = [
    [before, OLD],
    [after, NEW],
  ] as const;
  return { before, after, sides };
}

describe("diffImages against a registry", () => {
  it("compares apk databases found at different depths", async () => {
    const repo = "diff/apk-depths";
    const before = await image(repo, [await apkLayer(OLD), await filler("a"), await filler("b")]);
    const after = await image(repo, [await filler("c"), await apkLayer(NEW)]);
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest, { tag: "latest" });
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "apk", current: "apk" });
    expect(diff.packages.changed[0]?.current.reference).toBe("pkg:apk/wolfi/busybox@1.36.1-r5?arch=x86_64");
    expect(diff).toMatchObject({ image: `${reg.host}/${repo}`, tag: "latest", from: before.digest, to: after.digest, warnings: [] });
    expect(diff.platform).toBeUndefined();
    // The new image's top layer, and the old image's three layers.
    expect(blobRequests(c)).toBe(4);
  });

  it("merges distroless dpkg status.d files over zstd layers", async () => {
    const repo = "diff/distroless";
    const para = (name: string, version: string) => dpkgParagraph({ name, version }, { status: false });
    const base = await layer(
      [file("etc/os-release", osRelease("debian")), file("var/lib/dpkg/status.d/base-files", para("base-files", "12.4+deb12u5"))],
      { compression: "zstd" },
    );
    const libcOld = await layer([file("var/lib/dpkg/status.d/libc6", para("libc6", "2.36-9+deb12u4"))], { compression: "zstd" });
    const libcNew = await layer([file("var/lib/dpkg/status.d/libc6", para("libc6", "2.36-9+deb12u7"))], { compression: "zstd" });
    const before = await image(repo, [base, libcOld]);
    const after = await image(repo, [base, libcNew]);
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual({ added: [], removed: [], changed: ["libc6:2.36-9+deb12u4->2.36-9+deb12u7"] });
    expect(diff.packages.changed[0]?.previous.reference).toBe("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64");
    expect(diff.source).toEqual({ previous: "dpkg", current: "dpkg" });
    // The shared base layer is read once.
    expect(blobRequests(c)).toBe(3);
  });

  it("warns when a whiteout removed the package database from the new image", async () => {
    const repo = "diff/whiteout";
    const db = await apkLayer(OLD);
    const before = await image(repo, [db]);
    const after = await image(repo, [db, await layer([whiteout("lib/apk/db/installed")])]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.source).toEqual({ previous: "apk", current: "none" });
    expect(diff.warnings).toEqual([`new image ${after.digest.slice(0, 19)}…: no package database (apk, dpkg or rpm) in the image's layers`]);
  });

  it("reads the SPDX SBOMs of BuildKit attestation manifests for the platform, and no layer", async () => {
    const repo = "diff/buildkit";
    const build = async (packages: TestPackage[], generation: string) => {
      const amd64 = await pushImage(reg, repo, { layers: [await apkLayer(packages)], platform: LINUX_AMD64, created: generation });
      const arm64 = await pushImage(reg, repo, { layers: [await apkLayer(packages)], platform: LINUX_ARM64, created: generation });
      const attestations: Attestation[] = [
        { predicateType: "https://slsa.dev/provenance/v0.2", predicate: { builder: { id: "test" } } },
        { predicateType: SPDX, predicate: spdxDocument(packages) },
      ];
      const a1 = await pushBuildkitAttestation(reg, repo, amd64, attestations);
      const a2 = await pushBuildkitAttestation(reg, repo, arm64, attestations);
      return pushIndex(reg, repo, [
        descriptorOf(amd64, { platform: LINUX_AMD64 }),
        descriptorOf(arm64, { platform: LINUX_ARM64 }),
        a1.entry,
        a2.entry,
      ]);
    };
    const before = await build(OLD, "2024-01-01T00:00:00Z");
    const after = await build(NEW, "2024-02-01T00:00:00Z");
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "sbom-spdx", current: "sbom-spdx" });
    expect(diff.platform).toEqual(LINUX_AMD64);
    expect(diff.warnings).toEqual([]);
    expect(blobRequests(c)).toBe(2); // the two SPDX statements: no provenance, no layer
  });

  it("reads cosign .att attestations whose predicate is JSON text", async () => {
    const repo = "diff/cosign";
    const { before, after, sides } = await apkImages(repo);
    for (const [img, packages] of sides) {
      await pushCosignAttestation(reg, repo, img, [
        { predicateType: "https://slsa.dev/provenance/v1", predicate: {} },
        { predicateType: SPDX, predicate: JSON.stringify(spdxDocument(packages)) },
      ]);
    }
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "sbom-spdx", current: "sbom-spdx" });
    expect(blobRequests(c)).toBe(2);
  });

  it("reads CycloneDX Sigstore bundles attached as OCI referrers", async () => {
    const repo = "diff/referrers";
    const { before, after, sides } = await apkImages(repo);
    for (const [img, packages] of sides) {
      const signature = await pushReferrer(reg, repo, {
        subject: img,
        artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
        blobs: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", data: "{}" }],
      });
      const bundle = await pushReferrer(reg, repo, {
        subject: img,
        artifactType: MediaType.SigstoreBundle,
        annotations: { "dev.sigstore.bundle.predicateType": CYCLONEDX, "dev.sigstore.bundle.content": "dsse-envelope" },
        blobs: [{ mediaType: MediaType.SigstoreBundle, data: JSON.stringify(sigstoreBundle(inTotoStatement(img, CYCLONEDX, cyclonedxDocument(packages)))) }],
      });
      await pushReferrersTagIndex(reg, repo, img.digest, [signature.descriptor, bundle.descriptor]);
    }
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "sbom-cyclonedx", current: "sbom-cyclonedx" });
    expect(blobRequests(c)).toBe(2);
  });

  it("reads SPDX packages without purls by name and version, the ecosystem from the document's sourceInfo", async () => {
    const repo = "diff/spdx-no-purls";
    const { before, after, sides } = await apkImages(repo);
    for (const [img, packages] of sides) {
      const doc = spdxDocument(packages) as { packages: Record<string, unknown>[] };
      const stripped = doc.packages.map((p, i) =>
        i === 0 ? p : { SPDXID: p["SPDXID"], name: p["name"], versionInfo: p["versionInfo"], sourceInfo: "acquired package info from APK DB: lib/apk/db/installed" },
      );
      await pushCosignAttestation(reg, repo, img, [{ predicateType: SPDX, predicate: { ...doc, packages: stripped } }]);
    }
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "sbom-spdx", current: "sbom-spdx" });
    expect(diff.packages.changed.map((c) => [c.type, c.current.reference])).toEqual([
      ["apk", "pkg:apk/busybox@1.36.1-r5"],
      ["apk", "pkg:apk/libssl3@3.2.0-r0"],
    ]);
  });

  it("falls back to the layers, with a warning, when an SBOM lists no package, never showing an empty diff", async () => {
    const repo = "diff/spdx-empty";
    const { before, after } = await apkImages(repo);
    for (const img of [before, after]) await pushCosignAttestation(reg, repo, img, [{ predicateType: SPDX, predicate: spdxDocument([]) }]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "apk", current: "apk" });
    expect(diff.warnings).toContain("the two images have no usable SBOMs of the same kind; compared their package databases instead");
    expect(diff.warnings.some((w) => /lists no packages digesta can read/.test(w))).toBe(true);
  });

  it("says the package changes are unknown, not none, when the two databases cannot be compared", async () => {
    const repo = "diff/unknown";
    const before = await image(repo, [await apkLayer(OLD)]);
    const dpkg = await layer([file("etc/os-release", osRelease("debian")), file("var/lib/dpkg/status", dpkgParagraph({ name: "libc6", version: "2.36-9" }))]);
    const after = await image(repo, [dpkg]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(diff.packagesUnknown).toBe(true);
    const text = renderImageDiffText(diff);
    expect(text).toContain("package changes unknown");
    expect(text).not.toContain("no package changes");
  });

  it("labels a Debian security revision a distribution update, and a binNMU a rebuild", async () => {
    const repo = "diff/deb-labels";
    const status = (libc: string, zlib: string) =>
      layer([
        file("etc/os-release", osRelease("debian")),
        file("var/lib/dpkg/status", [dpkgParagraph({ name: "libc6", version: libc }), dpkgParagraph({ name: "zlib1g", version: zlib })].join("\n")),
      ]);
    const before = await image(repo, [await status("2.36-9+deb12u1", "1:1.2.13.dfsg-1")]);
    const after = await image(repo, [await status("2.36-9+deb12u2", "1:1.2.13.dfsg-1+b1")]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(diff.packages.changed.map((c) => [c.name, c.classification])).toEqual([
      ["libc6", "distribution-update"],
      ["zlib1g", "rebuild"],
    ]);
    expect(renderImageDiffText(diff)).toMatch(/libc6\s+2\.36-9\+deb12u1\s+->\s+2\.36-9\+deb12u2\s+distribution update/);
  });

  it("falls back to the layers of both images when only one has an SBOM", async () => {
    const repo = "diff/one-sbom";
    const { before, after } = await apkImages(repo);
    await pushCosignAttestation(reg, repo, after, [{ predicateType: SPDX, predicate: spdxDocument(NEW) }]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.source).toEqual({ previous: "apk", current: "apk" });
    expect(diff.warnings).toEqual(["no usable SBOM for the old image; compared the package databases of both instead"]);
  });

  it("ignores an SBOM whose subject is another image, with a warning", async () => {
    const repo = "diff/wrong-subject";
    const { before, after } = await apkImages(repo);
    await pushCosignAttestation(reg, repo, before, [{ predicateType: SPDX, predicate: spdxDocument(OLD) }]);
    const other = { digest: sha256("some other image") };
    await pushCosignAttestation(reg, repo, after, [
      { predicateType: SPDX, body: JSON.stringify(inTotoStatement(other, SPDX, spdxDocument(NEW))) },
    ]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(diff.source).toEqual({ previous: "apk", current: "apk" });
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.warnings[0]).toMatch(
      new RegExp(`^could not use the cosign SBOM of ${after.digest.slice(0, 19)}…: the SBOM attestation sha256:[0-9a-f]{12}… is about ${other.digest.slice(0, 19)}…, not`),
    );
  });

  it("reads the layers, without warnings, when neither image has an SBOM", async () => {
    const repo = "diff/no-sbom";
    const before = await image(repo, [await apkLayer(OLD)]);
    const after = await image(repo, [await apkLayer(NEW)]);
    const diff = await diffImages(client(), nameOf(repo), before.digest, after.digest);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
    expect(diff.warnings).toEqual([]);
  });

  it("warns, and downloads nothing more, when one side is not in the registry", async () => {
    const repo = "diff/missing";
    const after = await image(repo, [await apkLayer(NEW)]);
    const gone = sha256("never pushed") as Digest;
    const c = client();
    const diff = await diffImages(c, nameOf(repo), gone, after.digest);
    expect(summary(diff)).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.source).toEqual({ previous: "none", current: "none" });
    expect(diff.warnings).toHaveLength(1);
    expect(diff.warnings[0]).toMatch(new RegExp(`^could not read the old image ${gone.slice(0, 19)}… on ${reg.host.replace(/\./g, "\\.")}: .*`));
    expect(blobRequests(c)).toBe(0);
  });

  it("asks nothing of the registry for the same digest", async () => {
    const repo = "diff/same";
    const img = await image(repo, [await apkLayer(OLD)]);
    const c = client();
    const diff = await diffImages(c, nameOf(repo), img.digest, img.digest);
    expect(diff.unchanged).toBe("same-digest");
    expect(c.stats().requests).toBe(0);
  });

  it("stops at the index when both point to the same platform image", async () => {
    const repo = "diff/same-platform";
    const amd64 = await image(repo, [await apkLayer(OLD)]);
    const armOld = await pushImage(reg, repo, { layers: [await apkLayer(OLD)], platform: LINUX_ARM64, created: "2024-01-01T00:00:00Z" });
    const armNew = await pushImage(reg, repo, { layers: [await apkLayer(NEW)], platform: LINUX_ARM64, created: "2024-02-01T00:00:00Z" });
    const before = await pushIndex(reg, repo, [descriptorOf(amd64, { platform: LINUX_AMD64 }), descriptorOf(armOld, { platform: LINUX_ARM64 })]);
    const after = await pushIndex(reg, repo, [descriptorOf(amd64, { platform: LINUX_AMD64 }), descriptorOf(armNew, { platform: LINUX_ARM64 })]);
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(diff.unchanged).toBe("same-digest");
    expect(diff.platform).toEqual(LINUX_AMD64);
    expect(blobRequests(c)).toBe(0);

    const arm = await diffImages(c, nameOf(repo), before.digest, after.digest, { platform: { os: "linux", architecture: "arm64", variant: "v8" } });
    expect(summary(arm)).toEqual(EXPECTED_APK_CHANGE);
  });

  it("stops at the manifests when the layers are the same", async () => {
    const repo = "diff/same-layers";
    const db = await apkLayer(OLD);
    const before = await image(repo, [db], "2024-01-01T00:00:00Z");
    const after = await image(repo, [db], "2024-02-01T00:00:00Z");
    const c = client();
    const diff = await diffImages(c, nameOf(repo), before.digest, after.digest);
    expect(diff.unchanged).toBe("same-layers");
    expect(blobRequests(c)).toBe(0);
  });

  it("compares the matching platform when one pin is an index and the other a platform image", async () => {
    const repo = "diff/mixed";
    const armOld = await pushImage(reg, repo, { layers: [await apkLayer(OLD)], platform: LINUX_ARM64 });
    const amdNew = await image(repo, [await apkLayer([{ name: "unrelated", version: "1-r0" }])]);
    const armNew = await pushImage(reg, repo, { layers: [await apkLayer(NEW)], platform: LINUX_ARM64, created: "2024-03-01T00:00:00Z" });
    const after = await pushIndex(reg, repo, [descriptorOf(amdNew, { platform: LINUX_AMD64 }), descriptorOf(armNew, { platform: LINUX_ARM64 })]);
    const diff = await diffImages(client(), nameOf(repo), armOld.digest, after.digest);
    expect(diff.platform).toEqual(LINUX_ARM64);
    expect(summary(diff)).toEqual(EXPECTED_APK_CHANGE);
  });
});
