import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../src/reference/types.js";
import { RegistryError } from "../../src/registry/errors.js";
import type { Registry } from "../../src/registry/types.js";
import { createSignatureSource } from "../../src/verify/source.js";
import type { Verdict } from "../../src/verify/types.js";
import { digest } from "../factories/pins.js";

/** A registry with no signatures at all, counting the manifests asked for. */
function countingRegistry(): { registry: Registry; asked: string[] } {
  const asked: string[] = [];
  const unused = () => Promise.reject(new Error("not used"));
  const registry: Registry = {
    headManifest: unused,
    openBlob: unused,
    getBlob: unused,
    tagHistory: unused,
    async referrers(_name, subject) {
      asked.push(`referrers of ${subject}`);
      return [];
    },
    async getManifest(_name, reference) {
      asked.push(reference);
      throw new RegistryError("NOT_FOUND", `no ${reference}`);
    },
  };
  return { registry, asked };
}

const pem = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }) as string;
const image = { registry: "registry.example", repository: "team/app" };
const D: Digest = digest("d");

describe("signature source", () => {
  it("checks an image once per signer when sources share their verdicts (one sweep, many repositories)", async () => {
    const { registry, asked } = countingRegistry();
    const key = pem();
    const verdicts = new Map<string, Promise<Verdict>>();
    const a = createSignatureSource(registry, { required: false, images: [{ match: "registry.example/**", key }] }, { verdicts })!;
    const b = createSignatureSource(registry, { required: true, images: [{ match: "registry.example/team/*", key }] }, { verdicts })!;
    const other = createSignatureSource(registry, { required: true, images: [{ match: "**", key: pem() }] }, { verdicts })!;
    const unsigned = { status: "not-signed", reason: "no cosign signature and no Sigstore bundle among the referrers" };
    expect(await a.verdictOf(image, D)).toEqual(unsigned);
    expect(await b.verdictOf(image, D)).toEqual(unsigned);
    // The `.sig` tag, then the referrers (where a key-signed bundle may be).
    expect(asked).toEqual([`sha256-${"d".repeat(64)}.sig`, `referrers of ${D}`]);
    // Another signer is another question.
    await other.verdictOf(image, D);
    expect(asked).toHaveLength(4);
  });

  it("names no verdict for an image no rule matches, and none at all without rules", async () => {
    const { registry, asked } = countingRegistry();
    expect(createSignatureSource(registry, { required: true, images: [] })).toBeUndefined();
    const source = createSignatureSource(registry, { required: true, images: [{ match: "ghcr.io/**", key: pem() }] })!;
    expect(await source.verdictOf(image, D)).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("turns a registry failure into a could-not-check verdict, never a throw", async () => {
    const registry: Registry = { ...countingRegistry().registry, getManifest: () => Promise.reject(new RegistryError("SERVER_ERROR", "503 from the registry")) };
    const source = createSignatureSource(registry, { required: true, images: [{ match: "**", key: pem() }] })!;
    expect(await source.verdictOf(image, D)).toEqual({ status: "error", reason: expect.stringContaining("503 from the registry") });
  });
});
