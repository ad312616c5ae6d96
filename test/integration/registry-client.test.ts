// The registry client against a real registry (distribution 2.8): manifests of every kind, errors as the
// registry words them, blobs, the referrers fallback, and each auth mode (none, Basic via DOCKER_CONFIG, Bearer).
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Digest, ImageName } from "../../src/reference/types.js";
import { createRegistryClient, type RegistryClient } from "../../src/registry/client.js";
import { MediaType } from "../../src/registry/types.js";
import {
  MULTI_ARCH,
  movingTag,
  pushBlob,
  pushBuild,
  pushReferrer,
  pushReferrersTagIndex,
  sha256,
} from "../support/images.js";
import { registryError } from "../registry/fixtures.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

const name = (reg: TestRegistry, repository: string): ImageName => ({ registry: reg.host, repository });

/** A client that reads credentials from a Docker config in `dockerConfig` only (never the developer's own). */
function client(dockerConfig?: string, extra: Parameters<typeof createRegistryClient>[0] = {}): RegistryClient {
  return createRegistryClient({ env: { DOCKER_CONFIG: dockerConfig ?? "/nonexistent/digesta-test" }, retries: 0, ...extra });
}

describe("registry client, anonymous registry", () => {
  let reg: TestRegistry;
  let registry: RegistryClient;
  beforeAll(async () => {
    reg = await startRegistry();
    registry = client();
  });
  afterAll(() => reg?.stop());

  it("reads the digest, media type and size of a single-platform OCI manifest tag", async () => {
    const build = await pushBuild(reg, "app/oci", "1.0");
    const head = await registry.headManifest(name(reg, "app/oci"), "1.0");
    expect(head).toEqual({ mediaType: MediaType.OciManifest, digest: build.digest, size: build.size });
  });

  it("reads a Docker v2 manifest tag", async () => {
    const build = await pushBuild(reg, "app/docker", "1.0", { format: "docker" });
    const head = await registry.headManifest(name(reg, "app/docker"), "1.0");
    expect(head).toEqual({ mediaType: MediaType.DockerManifest, digest: build.digest, size: build.size });
  });

  it("reads an OCI index tag (amd64, arm64, arm/v7) and its body by digest", async () => {
    const build = await pushBuild(reg, "app/multi", "1.0", { platforms: MULTI_ARCH });
    const head = await registry.headManifest(name(reg, "app/multi"), "1.0");
    expect(head).toEqual({ mediaType: MediaType.OciIndex, digest: build.digest, size: build.size });

    const fetched = await registry.getManifest(name(reg, "app/multi"), build.digest);
    expect(fetched.digest).toBe(build.digest);
    expect(sha256(fetched.bytes)).toBe(build.digest);
    expect(fetched.mediaType).toBe(MediaType.OciIndex);
    const manifests = fetched.json["manifests"] as { digest: string; platform: object }[];
    expect(manifests.map((m) => [m.digest, m.platform])).toEqual(build.images.map((image) => [image.digest, image.platform]));
  });

  it("reads a Docker manifest list tag", async () => {
    const build = await pushBuild(reg, "app/list", "1.0", { format: "docker", platforms: MULTI_ARCH });
    const head = await registry.headManifest(name(reg, "app/list"), "1.0");
    expect(head).toEqual({ mediaType: MediaType.DockerManifestList, digest: build.digest, size: build.size });
    const fetched = await registry.getManifest(name(reg, "app/list"), "1.0");
    expect(fetched).toMatchObject({ digest: build.digest, mediaType: MediaType.DockerManifestList });
  });

  it("sees a tag move to the second build", async () => {
    const first = await pushBuild(reg, "app/moving", "stable", { platforms: MULTI_ARCH, generation: 1 });
    expect((await registry.headManifest(name(reg, "app/moving"), "stable")).digest).toBe(first.digest);
    const second = await pushBuild(reg, "app/moving", "stable", { platforms: MULTI_ARCH, generation: 2 });
    expect(second.digest).not.toBe(first.digest);
    expect((await registry.headManifest(name(reg, "app/moving"), "stable")).digest).toBe(second.digest);
    // The old digest is still served, and verified, by digest.
    expect((await registry.getManifest(name(reg, "app/moving"), first.digest)).digest).toBe(first.digest);
  });

  it("says NOT_FOUND with the registry's reason for an unknown tag", async () => {
    await pushBuild(reg, "app/known", "1.0");
    const error = await registryError(registry.headManifest(name(reg, "app/known"), "no-such-tag"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.status).toBe(404);
    expect(error.message).toContain(`${reg.host}/app/known:no-such-tag`);
    expect(error.message).toMatch(/manifest unknown/i);
    expect(error.message).not.toContain("\n");
  });

  it("says NOT_FOUND with the registry's reason for an unknown repository", async () => {
    const error = await registryError(registry.getManifest(name(reg, "no/such-repository"), "latest"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`${reg.host}/no/such-repository:latest`);
    // Distribution answers a manifest request in an unknown repository as it does an unknown tag.
    expect(error.message).toMatch(/MANIFEST_UNKNOWN: manifest unknown/);
  });

  it("says NOT_FOUND for a digest the repository does not hold", async () => {
    await pushBuild(reg, "app/known", "1.0");
    const error = await registryError(registry.getManifest(name(reg, "app/known"), sha256("nothing")));
    expect(error.code).toBe("NOT_FOUND");
  });

  it("reads a config blob verified against its digest, and refuses one over the size limit", async () => {
    const build = await pushBuild(reg, "app/blobs", "1.0");
    const image = build.images[0]!;
    const config = await registry.getBlob(name(reg, "app/blobs"), image.configDigest);
    expect(JSON.parse(new TextDecoder().decode(config))).toEqual(image.config);
    const error = await registryError(registry.getBlob(name(reg, "app/blobs"), image.configDigest, 10));
    expect(error.code).toBe("TOO_LARGE");
  });

  it("streams a layer blob whose bytes hash to its digest", async () => {
    const data = randomBytes(300_000);
    const blob = await pushBlob(reg, "app/stream", data);
    const opened = await registry.openBlob(name(reg, "app/stream"), blob.digest);
    expect(opened.size).toBe(data.length);
    const hash = createHash("sha256");
    for await (const chunk of opened.stream as AsyncIterable<Buffer>) hash.update(chunk);
    expect(`sha256:${hash.digest("hex")}`).toBe(blob.digest);
  });

  it("stops a blob download when aborted, before the rest of the body arrives", async () => {
    const size = 32 * 1024 * 1024;
    const blob = await pushBlob(reg, "app/stream", randomBytes(size));
    // One connection slot: a download that kept it after abort() would stall the request below.
    const single = client(undefined, { maxConcurrentPerRegistry: 1 });
    const opened = await single.openBlob(name(reg, "app/stream"), blob.digest);
    let received = 0;
    const closed = new Promise<void>((resolve) => opened.stream.once("close", () => resolve()));
    opened.stream.on("error", () => undefined);
    await new Promise<void>((resolve) => {
      opened.stream.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 64 * 1024) {
          opened.abort();
          resolve();
        }
      });
    });
    await closed;
    expect(received).toBeLessThan(size);
    expect(opened.stream.destroyed).toBe(true);
    const build = await pushBuild(reg, "app/stream", "1.0");
    expect((await single.headManifest(name(reg, "app/stream"), "1.0")).digest).toBe(build.digest);
    expect(single.stats().byKind.blob).toBe(1);
  });

  it("lists OCI 1.1 referrers through the sha256-<hex> tag fallback, filtered by artifact type", async () => {
    const build = await pushBuild(reg, "app/referred", "1.0");
    expect(await registry.referrers(name(reg, "app/referred"), build.digest as Digest)).toEqual([]);
    const sbom = await pushReferrer(reg, "app/referred", {
      subject: build,
      artifactType: "application/spdx+json",
      blobs: [{ mediaType: "application/spdx+json", data: '{"spdxVersion":"SPDX-2.3"}' }],
      annotations: { "org.opencontainers.image.created": "2024-01-02T00:00:00Z" },
    });
    const provenance = await pushReferrer(reg, "app/referred", { subject: build, artifactType: "application/vnd.in-toto+json" });
    await pushReferrersTagIndex(reg, "app/referred", build.digest, [sbom.descriptor, provenance.descriptor]);

    const all = await registry.referrers(name(reg, "app/referred"), build.digest);
    expect(all.map((d) => [d.digest, d.artifactType])).toEqual([
      [sbom.digest, "application/spdx+json"],
      [provenance.digest, "application/vnd.in-toto+json"],
    ]);
    expect(all[0]!.annotations).toEqual({ "org.opencontainers.image.created": "2024-01-02T00:00:00Z" });
    const sboms = await registry.referrers(name(reg, "app/referred"), build.digest, "application/spdx+json");
    expect(sboms.map((d) => d.digest)).toEqual([sbom.digest]);
  });

  it("says NO_TAG_HISTORY: distribution keeps none", async () => {
    await pushBuild(reg, "app/known", "1.0");
    const error = await registryError(registry.tagHistory(name(reg, "app/known"), "1.0"));
    expect(error.code).toBe("NO_TAG_HISTORY");
  });

  it("counts its requests by kind", async () => {
    const fresh = client();
    await pushBuild(reg, "app/counted", "1.0");
    await fresh.headManifest(name(reg, "app/counted"), "1.0");
    await fresh.headManifest(name(reg, "app/counted"), "1.0");
    const stats = fresh.stats();
    expect(stats.byKind.manifest).toBe(2);
    expect(stats.byKind.blob).toBe(0);
    expect(stats.tokenRequests).toBe(0);
  });
});

describe("registry client, htpasswd Basic auth via DOCKER_CONFIG", () => {
  let reg: TestRegistry;
  let build: Awaited<ReturnType<typeof pushBuild>>;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd", users: [{ username: "alice", password: "s3cret-Basic-pw" }] });
    build = await pushBuild(reg, "private/app", "1.0", { platforms: MULTI_ARCH });
  });
  afterAll(() => reg?.stop());

  it("sends the credentials from the Docker config", async () => {
    const registry = client(await reg.dockerConfigDir());
    expect((await registry.headManifest(name(reg, "private/app"), "1.0")).digest).toBe(build.digest);
    expect(registry.stats().tokenRequests).toBe(0);
  });

  it("says UNAUTHORIZED in one line without credentials", async () => {
    const error = await registryError(client().headManifest(name(reg, "private/app"), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain(`${reg.host}/private/app:1.0`);
    expect(error.message).not.toContain("\n");
  });

  it("says UNAUTHORIZED for a wrong password and never repeats it", async () => {
    const wrong = { username: "alice", password: "wrong-Basic-pw-123" };
    const error = await registryError(client(await reg.dockerConfigDir(wrong)).headManifest(name(reg, "private/app"), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).not.toContain(wrong.password);
    expect(error.message).not.toContain(Buffer.from(`alice:${wrong.password}`).toString("base64"));
  });
});

describe("registry client, token auth", () => {
  let reg: TestRegistry;
  let builds: Record<string, Awaited<ReturnType<typeof pushBuild>>>;
  const requestsFor = (scope: string) => reg.tokenServer!.requests.filter((r) => r.scopes.includes(scope));

  beforeAll(async () => {
    reg = await startRegistry({ auth: "token", users: [{ username: "bob", password: "s3cret-Token-pw" }], token: { lifetimeSeconds: 2 } });
    builds = {
      a: await pushBuild(reg, "team/a", "1.0", { platforms: MULTI_ARCH }),
      b: await pushBuild(reg, "team/b", "1.0"),
    };
  });
  afterAll(() => reg?.stop());

  it("fetches a pull token for the repository with the configured account", async () => {
    const before = reg.tokenServer!.requests.length;
    const registry = client(await reg.dockerConfigDir());
    expect((await registry.headManifest(name(reg, "team/a"), "1.0")).digest).toBe(builds.a!.digest);
    const asked = reg.tokenServer!.requests.slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ scopes: ["repository:team/a:pull"], service: "digesta-test-registry", username: "bob", status: 200 });
    expect(registry.stats().tokenRequests).toBe(1);
  });

  it("caches one token per repository scope, shared by concurrent requests", async () => {
    const registry = client(await reg.dockerConfigDir());
    const beforeA = requestsFor("repository:team/a:pull").length;
    const beforeB = requestsFor("repository:team/b:pull").length;
    const a = name(reg, "team/a");
    await Promise.all(Array.from({ length: 12 }, () => registry.headManifest(a, "1.0")));
    await registry.getManifest(a, builds.a!.digest);
    await registry.getBlob(a, builds.a!.images[0]!.configDigest);
    await registry.headManifest(name(reg, "team/b"), "1.0");
    await registry.headManifest(name(reg, "team/b"), "1.0");
    expect(requestsFor("repository:team/a:pull").length - beforeA).toBe(1);
    expect(requestsFor("repository:team/b:pull").length - beforeB).toBe(1);
    expect(registry.stats().tokenRequests).toBe(2);
  });

  it("asks for a new token once the old one has expired", async () => {
    let clock = Date.now();
    const registry = client(await reg.dockerConfigDir(), { now: () => clock });
    const a = name(reg, "team/a");
    await registry.headManifest(a, "1.0");
    await registry.headManifest(a, "1.0");
    expect(registry.stats().tokenRequests).toBe(1);
    clock += 3_000; // past the 2 s lifetime the token server gave
    expect((await registry.headManifest(a, "1.0")).digest).toBe(builds.a!.digest);
    expect(registry.stats().tokenRequests).toBe(2);
    await registry.headManifest(a, "1.0");
    expect(registry.stats().tokenRequests).toBe(2);
  });

  it("says UNAUTHORIZED in one line for a wrong password, without repeating it", async () => {
    const wrong = { username: "bob", password: "wrong-Token-pw-456" };
    const registry = client(await reg.dockerConfigDir(wrong));
    const error = await registryError(registry.headManifest(name(reg, "team/a"), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("team/a");
    expect(error.message).toMatch(/invalid username or password/);
    expect(error.message).not.toContain("\n");
    expect(error.message).not.toContain(wrong.password);
    expect(registry.stats().byKind.manifest).toBe(0);
  });

  it("says UNAUTHORIZED when an anonymous caller may not pull", async () => {
    const error = await registryError(client().headManifest(name(reg, "team/a"), "1.0"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).not.toContain("\n");
  });
});

describe("registry client, token auth with anonymous pull", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token", token: { anonymousPull: true } });
  });
  afterAll(() => reg?.stop());

  it("pulls with an anonymous token", async () => {
    const { after } = await movingTag(reg, "public/app", "latest", { platforms: MULTI_ARCH });
    const before = reg.tokenServer!.requests.length;
    const registry = client();
    expect((await registry.headManifest(name(reg, "public/app"), "latest")).digest).toBe(after.digest);
    expect(reg.tokenServer!.requests.slice(before)).toEqual([
      expect.objectContaining({ scopes: ["repository:public/app:pull"], username: undefined, status: 200 }),
    ]);
  });
});
