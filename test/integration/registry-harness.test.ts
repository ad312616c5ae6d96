// The harness itself: each auth mode starts, accepts pushes, and the image builder's output is what a
// registry (distribution 2.8) stores and serves back. Raw HTTP only, so these hold whatever the client does.
import { gunzipSync } from "node:zlib";
import { decompress as zstdDecompress } from "fzstd";
import { extract } from "tar-stream";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaType } from "../../src/registry/types.js";
import {
  cosignAttestationTag,
  file,
  layer,
  movingTag,
  MULTI_ARCH,
  opaqueWhiteout,
  pushBuild,
  pushCosignAttestation,
  pushImage,
  pushReferrer,
  pushReferrersTagIndex,
  referrersTag,
  sha256,
  symlink,
  whiteout,
} from "../support/images.js";
import { startRegistry, type TestRegistry } from "../support/registry-server.js";

async function tarEntries(tarBytes: Uint8Array): Promise<{ name: string; type: string; linkname?: string; content: string }[]> {
  const entries: { name: string; type: string; linkname?: string; content: string }[] = [];
  const extractor = extract();
  const done = (async () => {
    for await (const entry of extractor) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      entries.push({
        name: entry.header.name,
        type: entry.header.type ?? "file",
        ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
        content: Buffer.concat(chunks).toString("utf8"),
      });
    }
  })();
  Readable.from([Buffer.from(tarBytes)]).pipe(extractor);
  await done;
  return entries;
}

async function manifestAt(reg: TestRegistry, repository: string, reference: string, accept: string) {
  const response = await reg.fetch(`/v2/${repository}/manifests/${reference}`, { headers: { accept } });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, digest: response.headers.get("docker-content-digest"), type: response.headers.get("content-type"), bytes };
}

const ACCEPT_ALL = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(", ");

describe("registry harness, auth none", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(() => reg?.stop());

  it("listens on loopback and answers /v2/ without credentials", async () => {
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const response = await fetch(`${reg.url}/v2/`);
    expect(response.status).toBe(200);
  });

  it("round-trips a layer with files, symlinks and whiteouts, in each compression", async () => {
    const files = [file("etc/os-release", "ID=test\n"), symlink("bin/sh", "/bin/busybox"), whiteout("var/cache/old"), opaqueWhiteout("opt")];
    for (const compression of ["gzip", "zstd", "none"] as const) {
      const built = await layer(files, { compression });
      const image = await pushImage(reg, "harness/layers", { layers: [built] }, compression);
      const blob = new Uint8Array(await (await reg.fetch(`/v2/harness/layers/blobs/${built.digest}`)).arrayBuffer());
      expect(sha256(blob)).toBe(built.digest);
      const tarBytes = compression === "gzip" ? gunzipSync(blob) : compression === "zstd" ? zstdDecompress(blob) : blob;
      expect(sha256(tarBytes)).toBe(built.diffId);
      expect(await tarEntries(tarBytes)).toEqual([
        { name: "etc/os-release", type: "file", content: "ID=test\n" },
        { name: "bin/sh", type: "symlink", linkname: "/bin/busybox", content: "" },
        { name: "var/cache/.wh.old", type: "file", content: "" },
        { name: "opt/.wh..wh..opq", type: "file", content: "" },
      ]);
      expect(image.layers[0]!.mediaType).toBe(
        { gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer }[compression],
      );
    }
  });

  it("builds the same layer bytes from the same files", async () => {
    const a = await layer([file("a", "1")]);
    const b = await layer([file("a", "1")]);
    expect(a.digest).toBe(b.digest);
  });

  it("moves a tag from a first multi-arch build to a second", async () => {
    const { before, after } = await movingTag(reg, "harness/moving", "1.0", { platforms: MULTI_ARCH });
    expect(before.digest).not.toBe(after.digest);
    expect(Object.keys(after.platforms)).toEqual(["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    const served = await manifestAt(reg, "harness/moving", "1.0", ACCEPT_ALL);
    expect(served).toMatchObject({ status: 200, digest: after.digest, type: MediaType.OciIndex });
    const index = JSON.parse(new TextDecoder().decode(served.bytes)) as { manifests: { digest: string; platform: object }[] };
    expect(index.manifests.map((m) => m.platform)).toEqual(MULTI_ARCH);
    // The old build is still there by digest.
    expect((await manifestAt(reg, "harness/moving", before.digest, ACCEPT_ALL)).status).toBe(200);
  });

  it("pushes Docker v2 manifests and manifest lists with their media types", async () => {
    const single = await pushBuild(reg, "harness/docker", "single", { format: "docker" });
    expect(await manifestAt(reg, "harness/docker", "single", ACCEPT_ALL)).toMatchObject({ digest: single.digest, type: MediaType.DockerManifest });
    const list = await pushBuild(reg, "harness/docker", "list", { format: "docker", platforms: MULTI_ARCH });
    expect(await manifestAt(reg, "harness/docker", "list", ACCEPT_ALL)).toMatchObject({ digest: list.digest, type: MediaType.DockerManifestList });
  });

  it("adds BuildKit attestation manifests to an index", async () => {
    const build = await pushBuild(reg, "harness/attested", "latest", { platforms: MULTI_ARCH.slice(0, 2), attestations: true });
    const index = build.index!.manifest as { manifests: { platform: { os: string }; annotations?: Record<string, string> }[] };
    expect(index.manifests).toHaveLength(4);
    expect(index.manifests[2]).toMatchObject({
      platform: { os: "unknown", architecture: "unknown" },
      annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": build.images[0]!.digest },
    });
    const attestation = await manifestAt(reg, "harness/attested", build.attestations![0]!.digest, ACCEPT_ALL);
    const layers = (JSON.parse(new TextDecoder().decode(attestation.bytes)) as { layers: { mediaType: string; annotations: object }[] }).layers;
    expect(layers[0]).toMatchObject({ mediaType: MediaType.InToto, annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" } });
  });

  it("stores cosign attestations under sha256-<hex>.att and referrers under the sha256-<hex> tag", async () => {
    const image = await pushBuild(reg, "harness/signed", "latest");
    const att = await pushCosignAttestation(reg, "harness/signed", image, [{ predicateType: "https://spdx.dev/Document", predicate: { spdxVersion: "SPDX-2.3" } }]);
    expect(att.tag).toBe(cosignAttestationTag(image.digest));
    const stored = await manifestAt(reg, "harness/signed", att.tag, ACCEPT_ALL);
    expect(stored.digest).toBe(att.digest);
    const envelopeLayer = (att.manifest.layers as { digest: string }[])[0]!;
    const envelope = (await (await reg.fetch(`/v2/harness/signed/blobs/${envelopeLayer.digest}`)).json()) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as Record<string, unknown>;
    expect(statement).toMatchObject({ predicateType: "https://spdx.dev/Document", subject: [{ digest: { sha256: image.digest.slice(7) } }] });

    const referrer = await pushReferrer(reg, "harness/signed", {
      subject: image,
      artifactType: "application/spdx+json",
      blobs: [{ mediaType: "application/spdx+json", data: '{"spdxVersion":"SPDX-2.3"}' }],
    });
    expect(referrer.manifest).toMatchObject({ artifactType: "application/spdx+json", subject: { digest: image.digest } });
    const tagIndex = await pushReferrersTagIndex(reg, "harness/signed", image.digest, [referrer.descriptor]);
    const served = await manifestAt(reg, "harness/signed", referrersTag(image.digest), ACCEPT_ALL);
    expect(served.digest).toBe(tagIndex.digest);
    expect(JSON.parse(new TextDecoder().decode(served.bytes))).toMatchObject({
      manifests: [{ digest: referrer.digest, artifactType: "application/spdx+json" }],
    });
  });

  it("reports a rejected push with the registry's answer", async () => {
    const missingBlob = { layers: [{ ...(await layer([file("x", "y")])), bytes: new Uint8Array() }] };
    await expect(pushImage(reg, "harness/broken", missingBlob)).rejects.toThrow(/HTTP 400/);
  });
});

describe("registry harness, htpasswd", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "htpasswd", users: [{ username: "alice", password: "correct horse" }] });
  });
  afterAll(() => reg?.stop());

  it("refuses anonymous requests and accepts the harness's Basic credentials", async () => {
    expect((await fetch(`${reg.url}/v2/`)).status).toBe(401);
    const build = await pushBuild(reg, "private/app", "1");
    expect((await manifestAt(reg, "private/app", "1", ACCEPT_ALL)).digest).toBe(build.digest);
  });

  it("writes a Docker config for this host only", async () => {
    const dir = await reg.dockerConfigDir();
    const { readFile } = await import("node:fs/promises");
    const config = JSON.parse(await readFile(`${dir}/config.json`, "utf8")) as { auths: Record<string, { auth: string }> };
    expect(Object.keys(config.auths)).toEqual([reg.host]);
    expect(Buffer.from(config.auths[reg.host]!.auth, "base64").toString()).toBe("alice:correct horse");
  });
});

describe("registry harness, token auth", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
  });
  afterAll(() => reg?.stop());

  it("challenges with Bearer, then accepts a token from the test token server", async () => {
    const challenge = await fetch(`${reg.url}/v2/team/app/manifests/latest`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get("www-authenticate")).toMatch(/^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="digesta-test-registry"/);
    const build = await pushBuild(reg, "team/app", "latest");
    expect((await manifestAt(reg, "team/app", "latest", ACCEPT_ALL)).digest).toBe(build.digest);
    const requests = reg.tokenServer!.requests;
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.at(-1)).toMatchObject({ status: 200, username: reg.username, granted: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] });
  });

  it("refuses a wrong password at the token server", async () => {
    const response = await fetch(`${reg.tokenServer!.realm}?service=digesta-test-registry&scope=repository:team/app:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`${reg.username}:wrong`).toString("base64")}` },
    });
    expect(response.status).toBe(401);
  });

  it("gives anonymous callers a token the registry refuses when anonymous pull is off", async () => {
    const response = await fetch(`${reg.tokenServer!.realm}?service=digesta-test-registry&scope=repository:team/app:pull`);
    const { token } = (await response.json()) as { token: string };
    const denied = await fetch(`${reg.url}/v2/team/app/manifests/latest`, { headers: { authorization: `Bearer ${token}` } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });
});

describe("registry harness, token auth with anonymous pull", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token", token: { anonymousPull: true } });
  });
  afterAll(() => reg?.stop());

  it("lets an anonymous token pull but not push", async () => {
    const build = await pushBuild(reg, "public/app", "latest");
    const response = await fetch(`${reg.tokenServer!.realm}?service=digesta-test-registry&scope=repository:public/app:pull,push`);
    const { token } = (await response.json()) as { token: string };
    const pulled = await fetch(`${reg.url}/v2/public/app/manifests/latest`, { headers: { authorization: `Bearer ${token}`, accept: ACCEPT_ALL } });
    expect(pulled.headers.get("docker-content-digest")).toBe(build.digest);
    const push = await fetch(`${reg.url}/v2/public/app/blobs/uploads/`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(push.status).toBe(401);
  });

  it("stops answering once stopped", async () => {
    const extra = await startRegistry();
    const url = extra.url;
    await extra.stop();
    await expect(fetch(`${url}/v2/`)).rejects.toThrow();
  });
});
