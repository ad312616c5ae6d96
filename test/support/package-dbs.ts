// Package database texts as the real tools write them, for building test images.

export interface TestPackage {
  readonly name: string;
  readonly version: string;
  readonly arch?: string;
  /** apk `o:` / dpkg `Source:`. */
  readonly origin?: string;
}

/** An apk `lib/apk/db/installed`: one blank-line-separated record per package, with a few files listed like apk does. */
export function apkInstalled(packages: readonly TestPackage[]): string {
  return packages
    .map((p) =>
      [
        `C:Q1${Buffer.from(`${p.name}-${p.version}`).toString("base64").slice(0, 27)}=`,
        `P:${p.name}`,
        `V:${p.version}`,
        `A:${p.arch ?? "x86_64"}`,
        `S:${1000 + p.name.length}`,
        `I:${4096 + p.name.length}`,
        `T:${p.name} package`,
        `U:https://example.org/${p.name}`,
        `L:MIT`,
        `o:${p.origin ?? p.name}`,
        `m:Test Maintainer <test@example.org>`,
        `t:1700000000`,
        `F:usr/bin`,
        `R:${p.name}`,
        `a:0:0:755`,
      ].join("\n") + "\n",
    )
    .join("\n");
}

/** One dpkg status paragraph, as in `var/lib/dpkg/status` (with Status) or a distroless `status.d/<name>` (without). */
export function dpkgParagraph(p: TestPackage, options: { status?: boolean } = {}): string {
  const lines = [`Package: ${p.name}`];
  if (options.status ?? true) lines.push("Status: install ok installed");
  lines.push("Priority: optional", "Section: libs", "Installed-Size: 120", "Maintainer: Test Maintainer <test@example.org>");
  lines.push(`Architecture: ${p.arch ?? "amd64"}`);
  if (p.origin) lines.push(`Source: ${p.origin}`);
  lines.push(`Version: ${p.version}`, `Description: ${p.name} package`, " A longer description,", " over two lines.");
  return lines.join("\n") + "\n";
}

/** A `var/lib/dpkg/status`. */
export function dpkgStatus(packages: readonly TestPackage[]): string {
  return packages.map((p) => dpkgParagraph(p)).join("\n");
}

/** An `etc/os-release` naming the distro (its `ID=` is the purl namespace). */
export function osRelease(id: string, name = id): string {
  return `NAME="${name}"\nID=${id}\nPRETTY_NAME="${name} (test)"\n`;
}

/** `count` packages named `pkg-<i>`, all at the same version: a database of a chosen size. */
export function manyPackages(count: number, version = "1.0.0-r0"): TestPackage[] {
  return Array.from({ length: count }, (_, i) => ({ name: `pkg-${i}`, version }));
}

/** The purl of a test package: `pkg:apk/wolfi/busybox@1.36.1-r2?arch=x86_64`. */
export function testPurl(p: TestPackage, type = "apk", distro = "wolfi"): string {
  const arch = p.arch ?? (type === "deb" ? "amd64" : "x86_64");
  return `pkg:${type}/${distro}/${encodeURIComponent(p.name)}@${encodeURIComponent(p.version)}?arch=${arch}`;
}

/** An SPDX 2.3 JSON document as Syft/apko write them: the image package (described) plus one package per entry, each with a purl. */
export function spdxDocument(packages: readonly TestPackage[], options: { type?: string; distro?: string } = {}): Record<string, unknown> {
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: "sbom-test",
    documentNamespace: "https://example.org/spdx/test",
    creationInfo: { created: "2024-01-01T00:00:00Z", creators: ["Tool: digesta-test"] },
    documentDescribes: ["SPDXRef-Package-image"],
    packages: [
      {
        SPDXID: "SPDXRef-Package-image",
        name: "image",
        versionInfo: "sha256:0",
        externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:oci/image@sha256%3A0" }],
      },
      ...packages.map((p, i) => ({
        SPDXID: `SPDXRef-Package-${i}`,
        name: p.name,
        versionInfo: p.version,
        externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: testPurl(p, options.type, options.distro) }],
      })),
    ],
  };
}

/** A CycloneDX 1.5 JSON document listing the packages as components with purls. */
export function cyclonedxDocument(packages: readonly TestPackage[], options: { type?: string; distro?: string } = {}): Record<string, unknown> {
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    version: 1,
    metadata: { component: { type: "container", name: "image" } },
    components: packages.map((p) => ({ type: "library", name: p.name, version: p.version, purl: testPurl(p, options.type, options.distro) })),
  };
}

/** A Sigstore bundle (v0.3) whose DSSE envelope carries `statement`; the signature is a placeholder. */
export function sigstoreBundle(statement: unknown): Record<string, unknown> {
  return {
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: { publicKey: { hint: "test" }, tlogEntries: [] },
    dsseEnvelope: {
      payload: Buffer.from(JSON.stringify(statement)).toString("base64"),
      payloadType: "application/vnd.in-toto+json",
      signatures: [{ sig: Buffer.from("not a real signature").toString("base64"), keyid: "" }],
    },
  };
}
