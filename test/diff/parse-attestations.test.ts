import { describe, expect, it } from "vitest";
import {
  AttestationError,
  parseInTotoStatement,
  statementFromAttestation,
  statementMatchesDigest,
  unwrapDsseEnvelope,
  unwrapSigstoreBundle,
} from "../../src/diff/parse/attestation.js";
import { MAX_PACKAGES } from "../../src/diff/parse/fields.js";
import { packagesFromSbom, sbomSourceOf } from "../../src/diff/parse/sbom.js";

const HEX = "a".repeat(64);
const SPDX = "https://spdx.dev/Document";
const CDX = "https://cyclonedx.org/bom";

const statement = (predicate: unknown, predicateType = SPDX) => ({
  _type: "https://in-toto.io/Statement/v0.1",
  subject: [{ name: "cgr.dev/chainguard/static", digest: { sha256: HEX } }],
  predicateType,
  predicate,
});
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dsse = (v: unknown, payloadType = "application/vnd.in-toto+json") => ({
  payloadType,
  payload: Buffer.from(JSON.stringify(v)).toString("base64"),
  signatures: [{ keyid: "", sig: "MEUC" }],
});

describe("in-toto statements and their envelopes", () => {
  it("parses a bare statement from bytes, text or JSON", () => {
    for (const input of [enc(statement({ a: 1 })), JSON.stringify(statement({ a: 1 })), statement({ a: 1 })]) {
      expect(parseInTotoStatement(input)).toEqual({
        predicateType: SPDX,
        subject: [{ name: "cgr.dev/chainguard/static", digest: { sha256: HEX } }],
        predicate: { a: 1 },
      });
    }
  });

  it("parses a predicate that cosign stored as a JSON string", () => {
    expect(parseInTotoStatement(statement(JSON.stringify({ spdxVersion: "SPDX-2.3" }))).predicate).toEqual({ spdxVersion: "SPDX-2.3" });
  });

  it("unwraps DSSE envelopes and Sigstore bundles", () => {
    const s = statement({ x: true });
    expect(unwrapDsseEnvelope(dsse(s)).predicate).toEqual({ x: true });
    const bundle = { mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", verificationMaterial: {}, dsseEnvelope: dsse(s) };
    expect(unwrapSigstoreBundle(bundle).predicate).toEqual({ x: true });
    expect(statementFromAttestation("application/vnd.dsse.envelope.v1+json", enc(dsse(s))).predicateType).toBe(SPDX);
    expect(statementFromAttestation("application/vnd.in-toto+json", enc(s)).predicateType).toBe(SPDX);
    expect(statementFromAttestation("application/vnd.dev.sigstore.bundle.v0.3+json", enc(bundle)).predicateType).toBe(SPDX);
    // Unknown media types: chosen by shape.
    expect(statementFromAttestation("application/octet-stream", enc(bundle)).predicateType).toBe(SPDX);
    expect(statementFromAttestation("application/json", enc(dsse(s))).predicateType).toBe(SPDX);
    expect(statementFromAttestation("application/json", enc(s)).predicateType).toBe(SPDX);
  });

  it("matches the statement's subject against an image digest", () => {
    const s = parseInTotoStatement(statement({}));
    expect(statementMatchesDigest(s, `sha256:${HEX}`)).toBe(true);
    expect(statementMatchesDigest(s, `SHA256:${HEX.toUpperCase()}`)).toBe(true);
    expect(statementMatchesDigest(s, `sha256:${"b".repeat(64)}`)).toBe(false);
    expect(statementMatchesDigest(s, "nonsense")).toBe(false);
  });

  it.each([
    ["not JSON", "{nope", /not JSON/],
    ["a JSON array", "[]", /malformed/],
    ["a wrong _type", JSON.stringify({ ...statement({}), _type: "https://example.com/x" }), /_type.*not an in-toto statement type/],
    ["a subject that is not a list", JSON.stringify({ ...statement({}), subject: "x" }), /malformed: subject/],
    ["a missing predicateType", JSON.stringify({ _type: "https://in-toto.io/Statement/v1", subject: [] }), /predicateType/],
    ["a broken JSON predicate string", JSON.stringify(statement("{broken")), /predicate is not JSON/],
  ])("refuses %s with a one-line AttestationError", (_what, input, message) => {
    expect(() => parseInTotoStatement(input)).toThrow(AttestationError);
    expect(() => parseInTotoStatement(input)).toThrow(message);
    try {
      parseInTotoStatement(input);
    } catch (e) {
      expect((e as Error).message).not.toContain("\n");
    }
  });

  it("refuses envelopes that carry something else, bad base64 and oversized documents", () => {
    expect(() => unwrapDsseEnvelope(dsse(statement({}), "text/plain"))).toThrow(/"text\/plain", not an in-toto statement/);
    expect(() => unwrapDsseEnvelope({ payloadType: "application/vnd.in-toto+json", payload: "!!!" })).toThrow(/not base64/);
    expect(() => unwrapSigstoreBundle({ mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", messageSignature: {} })).toThrow(
      /no dsseEnvelope/,
    );
    expect(() => parseInTotoStatement(enc(statement({ pad: "x".repeat(2000) })), { maxBytes: 1000 })).toThrow(/over the 1000-byte limit/);
    expect(() => statementFromAttestation("application/json", enc({ hello: 1 }))).toThrow(/neither an in-toto statement/);
  });

  it("refuses a document of more JSON values than the limit before parsing it, counting none inside strings", () => {
    const many = enc(statement({ packages: Array.from({ length: 600 }, () => ({})) }));
    expect(() => parseInTotoStatement(many, { maxValues: 500 })).toThrow(/holds more than 500 JSON values/);
    expect(() => unwrapDsseEnvelope(dsse(statement({ packages: Array.from({ length: 600 }, () => []) })), { maxValues: 500 })).toThrow(/more than 500/);
    const text = enc(statement({ name: '{[,"'.repeat(1000), packages: [] }));
    expect(parseInTotoStatement(text, { maxValues: 20 }).predicate).toEqual({ name: '{[,"'.repeat(1000), packages: [] });
    expect(() => packagesFromSbom(SPDX, JSON.stringify({ packages: Array.from({ length: 5_000_001 }, () => 0) }))).toThrow(/more than 4000000 JSON values/);
  });

  it("does not let a __proto__ digest key confuse digest matching", () => {
    const s = parseInTotoStatement(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"__proto__":"x","sha256":"${HEX}"}}],"predicateType":"p"}`);
    expect(statementMatchesDigest(s, `sha256:${HEX}`)).toBe(true);
    expect(statementMatchesDigest(s, "__proto__:x")).toBe(false);
    expect(({} as Record<string, unknown>)["sha256"]).toBeUndefined();
  });
});

describe("packagesFromSbom", () => {
  const spdx = {
    spdxVersion: "SPDX-2.3",
    SPDXID: "SPDXRef-DOCUMENT",
    documentDescribes: ["SPDXRef-Image"],
    packages: [
      {
        SPDXID: "SPDXRef-Image",
        name: "static",
        versionInfo: "sha256:abc",
        externalRefs: [{ referenceCategory: "PACKAGE_MANAGER", referenceType: "purl", referenceLocator: "pkg:generic/static@1" }],
      },
      {
        SPDXID: "SPDXRef-oci",
        name: "static",
        externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:oci/static@sha256%3Aabc?arch=amd64" }],
      },
      {
        SPDXID: "SPDXRef-Package-glibc",
        name: "glibc",
        versionInfo: "2.38-r1",
        externalRefs: [
          { referenceCategory: "SECURITY", referenceType: "cpe23Type", referenceLocator: "cpe:2.3:a:gnu:glibc:2.38:*:*:*:*:*:*:*" },
          { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:apk/wolfi/glibc@2.38-r1?arch=x86_64&distro=wolfi" },
        ],
      },
      {
        SPDXID: "SPDXRef-Package-glibc-dup",
        name: "glibc",
        externalRefs: [{ referenceCategory: "PACKAGE_MANAGER", referenceType: "purl", referenceLocator: "pkg:apk/wolfi/glibc@2.38-r1?arch=x86_64" }],
      },
      { SPDXID: "SPDXRef-no-purl", name: "something", versionInfo: "1" },
      { SPDXID: "SPDXRef-no-purl-rpm", name: "bash", versionInfo: "5.1.8-6.el9_1", sourceInfo: "acquired package info from RPM DB: /var/lib/rpm/rpmdb.sqlite" },
      { SPDXID: "SPDXRef-no-version", name: "noversion", versionInfo: "NOASSERTION" },
      { SPDXID: "SPDXRef-os", name: "rhel", versionInfo: "9.3", primaryPackagePurpose: "OPERATING-SYSTEM" },
      {
        SPDXID: "SPDXRef-go",
        name: "x/net",
        externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:golang/golang.org/x/net@v0.17.0" }],
      },
      {
        SPDXID: "SPDXRef-versionless",
        name: "versionless",
        versionInfo: "3.1",
        externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:pypi/versionless" }],
      },
      {
        SPDXID: "SPDXRef-rpm",
        name: "openssl",
        externalRefs: [{ referenceType: "purl", referenceLocator: "pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm" }],
      },
      "junk",
      { SPDXID: "SPDXRef-bad-refs", externalRefs: "nope" },
    ],
  };

  it("reads SPDX 2.x packages by purl, or by name and version without one, skipping the image, the OS, and duplicates", () => {
    expect(packagesFromSbom(`${SPDX}/v2.3`, spdx)).toEqual([
      { type: "apk", name: "glibc", version: "2.38-r1", arch: "x86_64", purl: "pkg:apk/wolfi/glibc@2.38-r1?arch=x86_64&distro=wolfi" },
      { type: "generic", name: "something", version: "1" },
      { type: "rpm", name: "bash", version: "5.1.8-6.el9_1" },
      { type: "golang", name: "golang.org/x/net", version: "v0.17.0", purl: "pkg:golang/golang.org/x/net@v0.17.0" },
      { type: "pypi", name: "versionless", version: "3.1", purl: "pkg:pypi/versionless" },
      {
        type: "rpm",
        name: "openssl",
        version: "1:3.0.7-24.el9",
        arch: "x86_64",
        origin: "openssl-3.0.7-24.el9.src.rpm",
        purl: "pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm",
      },
    ]);
  });

  it("skips what the document DESCRIBES through relationships too", () => {
    const doc = {
      SPDXID: "SPDXRef-DOCUMENT",
      relationships: [{ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-Package-glibc" }],
      packages: spdx.packages,
    };
    // SPDXRef-Package-glibc is described; its duplicate SPDXRef-Package-glibc-dup (other purl) is not.
    expect(packagesFromSbom(SPDX, doc)?.map((p) => p.purl)).toEqual([
      "pkg:generic/static@1",
      "pkg:apk/wolfi/glibc@2.38-r1?arch=x86_64",
      undefined,
      undefined,
      "pkg:golang/golang.org/x/net@v0.17.0",
      "pkg:pypi/versionless",
      "pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm",
    ]);
  });

  it("reads cosign's wrapped predicates ({Data: …} and JSON text)", () => {
    expect(packagesFromSbom(SPDX, { Data: JSON.stringify(spdx), Timestamp: "2024-01-01T00:00:00Z" })).toHaveLength(6);
    expect(packagesFromSbom(SPDX, { Data: spdx })).toHaveLength(6);
    expect(packagesFromSbom(SPDX, JSON.stringify(spdx))).toHaveLength(6);
  });

  it("reads CycloneDX components, nested ones included", () => {
    const bom = {
      bomFormat: "CycloneDX",
      metadata: { component: { type: "container", name: "image", purl: "pkg:oci/image@sha256%3Aabc" } },
      components: [
        { type: "library", name: "zlib", version: "1.3-r0", purl: "pkg:apk/alpine/zlib@1.3-r0?arch=aarch64" },
        {
          type: "application",
          name: "app",
          components: [
            { type: "library", name: "core", version: "7.24.0", purl: "pkg:npm/%40babel/core@7.24.0" },
            { type: "library", name: "nopurl", version: "1" },
            { type: "library", name: "log4j-core", purl: "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1" },
          ],
        },
        null,
      ],
    };
    expect(packagesFromSbom(`${CDX}/v1.5`, bom)?.map((p) => [p.type, p.name, p.version, p.arch])).toEqual([
      ["apk", "zlib", "1.3-r0", "aarch64"],
      ["npm", "@babel/core", "7.24.0", undefined],
      ["maven", "org.apache.logging.log4j:log4j-core", "2.17.1", undefined],
    ]);
  });

  it("survives deeply nested CycloneDX components", () => {
    let component: Record<string, unknown> = { name: "leaf", purl: "pkg:npm/leaf@1.0.0" };
    for (let i = 0; i < 100_000; i++) component = { name: `c${i}`, components: [component] };
    expect(packagesFromSbom(CDX, { components: [component] })).toEqual([
      { type: "npm", name: "leaf", version: "1.0.0", purl: "pkg:npm/leaf@1.0.0" },
    ]);
  });

  it("says undefined for predicates that are not SBOMs and throws for unreadable SBOMs", () => {
    expect(packagesFromSbom("https://slsa.dev/provenance/v1", spdx)).toBeUndefined();
    expect(sbomSourceOf(`${SPDX}/v2.3`)).toBe("sbom-spdx");
    expect(sbomSourceOf(CDX)).toBe("sbom-cyclonedx");
    expect(() => packagesFromSbom(SPDX, 42)).toThrow(AttestationError);
    expect(() => packagesFromSbom(SPDX, "SPDXVersion: SPDX-2.3\n")).toThrow(/tag-value/);
    expect(() => packagesFromSbom(SPDX, { "@context": "https://spdx.org/rdf/3.0.0/spdx-context.jsonld", "@graph": [] })).toThrow(/SPDX 3/);
    expect(() => packagesFromSbom(SPDX, { packages: {} })).toThrow(/not a list/);
    expect(() => packagesFromSbom(CDX, { components: "x" })).toThrow(/not a list/);
    expect(packagesFromSbom(CDX, {})).toEqual([]);
  });

  it("refuses an SBOM listing more than MAX_PACKAGES packages", () => {
    const components = Array.from({ length: MAX_PACKAGES + 1 }, (_, i) => ({ purl: `pkg:npm/p${i}@1.0.0` }));
    expect(() => packagesFromSbom(CDX, { components })).toThrow(/more than 100000 packages/);
    expect(packagesFromSbom(CDX, { components: components.slice(1) })).toHaveLength(MAX_PACKAGES);
  });
});
