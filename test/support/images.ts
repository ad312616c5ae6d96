// Builds images in memory and pushes them to a TestRegistry over the distribution HTTP API: layers (tar,
// gzip/zstd), image manifests (OCI or Docker v2), indexes, BuildKit and cosign attestations, OCI 1.1 referrers
// and the scenario every integration test starts from: a tag that moves.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { gzipSync } from "node:zlib";
import { pack, type Header as TarHeader } from "tar-stream";
import type { Digest, Platform } from "../../src/reference/types.js";
import { MediaType, type Descriptor } from "../../src/registry/types.js";
import type { TestRegistry } from "./registry-server.js";

export type ImageFormat = "oci" | "docker";
export type Compression = "gzip" | "zstd" | "none";

export const LINUX_AMD64: Platform = { os: "linux", architecture: "amd64" };
export const LINUX_ARM64: Platform = { os: "linux", architecture: "arm64" };
export const LINUX_ARM_V7: Platform = { os: "linux", architecture: "arm", variant: "v7" };
export const MULTI_ARCH: readonly Platform[] = [LINUX_AMD64, LINUX_ARM64, LINUX_ARM_V7];
/** The platform BuildKit gives attestation manifests in an index. */
export const UNKNOWN_PLATFORM: Platform = { os: "unknown", architecture: "unknown" };

export function sha256(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest;
}

/** `linux/arm/v7`. */
export function platformKey(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

const encoder = new TextEncoder();
const toBytes = (data: string | Uint8Array): Uint8Array => (typeof data === "string" ? encoder.encode(data) : data);

// ---------------------------------------------------------------------------------------------- layers

/** One tar entry. Whiteouts (`.wh.name`, `.wh..wh..opq`) are plain files with those names; see `whiteout`. */
export interface LayerFile {
  /** Path inside the image, without a leading slash: `etc/os-release`, `lib/apk/db/installed`. */
  readonly path: string;
  readonly type?: "file" | "directory" | "symlink" | "hardlink";
  /** File content (files only). */
  readonly content?: string | Uint8Array;
  /** Link target (symlinks and hard links). */
  readonly target?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Default: the epoch, so that equal files make equal layers. */
  readonly mtime?: Date;
}

export const file = (path: string, content: string | Uint8Array, mode = 0o644): LayerFile => ({ path, content, mode });
export const directory = (path: string, mode = 0o755): LayerFile => ({ path, type: "directory", mode });
export const symlink = (path: string, target: string): LayerFile => ({ path, type: "symlink", target });
export const hardlink = (path: string, target: string): LayerFile => ({ path, type: "hardlink", target });
/** The whiteout that deletes `path` from lower layers: `dir/.wh.name`. */
export const whiteout = (path: string): LayerFile => file(posix.join(posix.dirname(path), `.wh.${posix.basename(path)}`), "");
/** The opaque whiteout that hides everything lower layers put in `dir`. */
export const opaqueWhiteout = (dir: string): LayerFile => file(posix.join(dir, ".wh..wh..opq"), "");

/** A layer blob ready to push. */
export interface Layer {
  /** The blob as stored (compressed unless `compression` is none). */
  readonly bytes: Uint8Array;
  readonly digest: Digest;
  readonly size: number;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: Digest;
  readonly compression: Compression;
  /** Overrides the media type derived from format and compression. */
  readonly mediaType?: string;
}

/** Builds an uncompressed tar from `files`, in order. */
export async function tar(files: readonly LayerFile[]): Promise<Uint8Array> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const entry of files) {
    const type = entry.type ?? "file";
    const header: Partial<TarHeader> & { name: string } = {
      name: entry.path.replace(/^\/+/, ""),
      mode: entry.mode ?? (type === "directory" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? new Date(0),
      type: type === "hardlink" ? "link" : type,
    };
    if (type === "symlink" || type === "hardlink") header.linkname = entry.target ?? "";
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (type === "file") archive.entry(header, Buffer.from(toBytes(entry.content ?? "")), done);
      else archive.entry(header, done);
    });
  }
  archive.finalize();
  await collected;
  return new Uint8Array(Buffer.concat(chunks));
}

/** Compresses with the zstd CLI (Node 20's zlib has no zstd). */
export async function zstdCompress(data: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn("zstd", ["-q", "-c", "-3"], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.once("error", (error) => reject(new Error(`could not run zstd (is the zstd package installed?): ${error.message}`)));
    child.once("close", (code) =>
      code === 0 ? resolve(new Uint8Array(Buffer.concat(out))) : reject(new Error(`zstd exited with ${code}: ${err.trim()}`)),
    );
    child.stdin.end(Buffer.from(data));
  });
}

function compress(data: Uint8Array, compression: Compression): Promise<Uint8Array> | Uint8Array {
  if (compression === "gzip") return new Uint8Array(gzipSync(data));
  if (compression === "zstd") return zstdCompress(data);
  return data;
}

/** A layer holding `files`, compressed with gzip unless told otherwise. */
export async function layer(files: readonly LayerFile[], options: { compression?: Compression } = {}): Promise<Layer> {
  return tarLayer(await tar(files), options);
}

/** A layer from a tar you built yourself (or a deliberately broken one). */
export async function tarLayer(tarBytes: Uint8Array, options: { compression?: Compression } = {}): Promise<Layer> {
  const compression = options.compression ?? "gzip";
  const bytes = await compress(tarBytes, compression);
  return { bytes, digest: sha256(bytes), size: bytes.length, diffId: sha256(tarBytes), compression };
}

/** A blob pushed as a layer exactly as given, with any media type: for hostile or non-tar content. */
export function rawLayer(bytes: Uint8Array, mediaType: string, diffId: Digest = sha256(bytes)): Layer {
  return { bytes, digest: sha256(bytes), size: bytes.length, diffId, compression: "none", mediaType };
}

export function layerMediaType(layer: Layer, format: ImageFormat): string {
  if (layer.mediaType) return layer.mediaType;
  if (layer.compression === "zstd") return MediaType.OciLayerZstd; // Docker v2 has no zstd type; BuildKit uses OCI's.
  if (format === "docker") return layer.compression === "gzip" ? MediaType.DockerLayerGzip : "application/vnd.docker.image.rootfs.diff.tar";
  return layer.compression === "gzip" ? MediaType.OciLayerGzip : MediaType.OciLayer;
}

// ---------------------------------------------------------------------------------------------- pushing

export interface PushedBlob {
  readonly digest: Digest;
  readonly size: number;
}

/** A manifest or index as pushed: its descriptor fields, bytes and parsed body. */
export interface PushedManifest {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  readonly manifest: Record<string, unknown>;
}

async function expectStatus(response: Response, expected: number, what: string): Promise<void> {
  if (response.status === expected) {
    await response.arrayBuffer();
    return;
  }
  const body = (await response.text()).slice(0, 500);
  throw new Error(`${what}: registry answered HTTP ${response.status} (expected ${expected}): ${body}`);
}

/** Uploads a blob (POST then PUT ?digest=). */
export async function pushBlob(reg: TestRegistry, repository: string, data: Uint8Array | string): Promise<PushedBlob> {
  const bytes = toBytes(data);
  const digest = sha256(bytes);
  const start = await reg.fetch(`/v2/${repository}/blobs/uploads/`, { method: "POST" });
  const location = start.headers.get("location");
  await expectStatus(start, 202, `starting a blob upload to ${repository}`);
  if (!location) throw new Error(`starting a blob upload to ${repository}: no Location header`);
  const target = new URL(location, reg.url);
  target.searchParams.set("digest", digest);
  const put = await reg.fetch(`${target.pathname}${target.search}`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  await expectStatus(put, 201, `uploading blob ${digest} to ${repository}`);
  return { digest, size: bytes.length };
}

/**
 * PUTs a manifest of any media type under `reference` (a tag; default: its own digest). A string or bytes body
 * is sent exactly as given, an object as compact JSON.
 */
export async function pushManifest(
  reg: TestRegistry,
  repository: string,
  body: Record<string, unknown> | string | Uint8Array,
  mediaType: string,
  reference?: string,
): Promise<PushedManifest> {
  const bytes = typeof body === "string" || body instanceof Uint8Array ? toBytes(body) : encoder.encode(JSON.stringify(body));
  const digest = sha256(bytes);
  const response = await reg.fetch(`/v2/${repository}/manifests/${reference ?? digest}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: bytes,
  });
  const stored = response.headers.get("docker-content-digest");
  await expectStatus(response, 201, `pushing manifest ${reference ?? digest} to ${repository}`);
  if (stored && stored !== digest) throw new Error(`registry stored ${repository} manifest as ${stored}, not ${digest}`);
  let manifest: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) manifest = parsed as Record<string, unknown>;
  } catch {
    // a deliberately malformed manifest: keep the bytes only
  }
  return { digest, size: bytes.length, mediaType, bytes, manifest };
}

/** Points `tag` at an already pushed manifest (re-PUTs its exact bytes). */
export function tagManifest(reg: TestRegistry, repository: string, pushed: PushedManifest, tag: string): Promise<PushedManifest> {
  return pushManifest(reg, repository, pushed.bytes, pushed.mediaType, tag);
}

/** Deletes a manifest by digest (the registry has deletes enabled); its tags go with it. */
export async function deleteManifest(reg: TestRegistry, repository: string, digest: Digest): Promise<void> {
  await expectStatus(await reg.fetch(`/v2/${repository}/manifests/${digest}`, { method: "DELETE" }), 202, `deleting ${repository}@${digest}`);
}

/** The descriptor fields of anything pushed (drops bytes and bodies), for index entries and subjects. */
export function descriptorOf(
  pushed: { digest: Digest; size: number; mediaType: string },
  extra: { platform?: Platform; annotations?: Record<string, string>; artifactType?: string } = {},
): Descriptor {
  return { mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size, ...extra };
}

// ---------------------------------------------------------------------------------------------- images

export interface ImageSpec {
  readonly layers: readonly Layer[];
  /** Default linux/amd64. */
  readonly platform?: Platform;
  /** Default oci. */
  readonly format?: ImageFormat;
  /** The config's `created` timestamp (ISO 8601). */
  readonly created?: string;
  /** Manifest annotations (OCI only). */
  readonly annotations?: Record<string, string>;
  /** The config's `config` object: Env, Labels, Entrypoint… */
  readonly imageConfig?: Record<string, unknown>;
}

export interface PushedImage extends PushedManifest {
  readonly platform: Platform;
  readonly configDigest: Digest;
  readonly config: Record<string, unknown>;
  readonly layers: readonly { digest: Digest; size: number; mediaType: string }[];
}

/** Pushes the layers, the config and the manifest of one image; tagged when `tag` is given, else by digest. */
export async function pushImage(reg: TestRegistry, repository: string, spec: ImageSpec, tag?: string): Promise<PushedImage> {
  const format = spec.format ?? "oci";
  const platform = spec.platform ?? LINUX_AMD64;
  const config: Record<string, unknown> = {
    ...(spec.created ? { created: spec.created } : {}),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: spec.imageConfig ?? {},
    rootfs: { type: "layers", diff_ids: spec.layers.map((l) => l.diffId) },
  };
  const configBytes = encoder.encode(JSON.stringify(config));
  const [configBlob] = await Promise.all([
    pushBlob(reg, repository, configBytes),
    ...spec.layers.map((l) => pushBlob(reg, repository, l.bytes)),
  ]);
  const layers = spec.layers.map((l) => ({ mediaType: layerMediaType(l, format), digest: l.digest, size: l.size }));
  const mediaType = format === "oci" ? MediaType.OciManifest : MediaType.DockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: format === "oci" ? MediaType.OciConfig : MediaType.DockerConfig, digest: configBlob!.digest, size: configBlob!.size },
    layers,
    ...(spec.annotations && format === "oci" ? { annotations: spec.annotations } : {}),
  };
  const pushed = await pushManifest(reg, repository, manifest, mediaType, tag);
  return { ...pushed, platform, configDigest: configBlob!.digest, config, layers };
}

export interface IndexEntry {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
}

export interface IndexOptions {
  /** Default oci (an OCI index); docker makes a Docker manifest list. */
  readonly format?: ImageFormat;
  readonly tag?: string;
  readonly annotations?: Record<string, string>;
  /** OCI 1.1 fields, for indexes that are themselves artifacts. */
  readonly subject?: Descriptor;
  readonly artifactType?: string;
}

function entryJson(entry: IndexEntry): Record<string, unknown> {
  return {
    mediaType: entry.mediaType,
    digest: entry.digest,
    size: entry.size,
    ...(entry.platform ? { platform: { ...entry.platform } } : {}),
    ...(entry.annotations ? { annotations: { ...entry.annotations } } : {}),
    ...(entry.artifactType ? { artifactType: entry.artifactType } : {}),
  };
}

/** Pushes an index over manifests already in the repository (PushedImage values work as entries). */
export async function pushIndex(
  reg: TestRegistry,
  repository: string,
  entries: readonly IndexEntry[],
  options: IndexOptions = {},
): Promise<PushedManifest> {
  const mediaType = options.format === "docker" ? MediaType.DockerManifestList : MediaType.OciIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    manifests: entries.map(entryJson),
    ...(options.subject ? { subject: entryJson(options.subject) } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  return pushManifest(reg, repository, index, mediaType, options.tag);
}

// ---------------------------------------------------------------------------------------------- attestations

export interface Attestation {
  /** e.g. `https://spdx.dev/Document`, `https://slsa.dev/provenance/v0.2`. */
  readonly predicateType: string;
  readonly predicate?: unknown;
  /** The exact layer content to push instead of a generated in-toto statement (for malformed or huge inputs). */
  readonly body?: Uint8Array | string;
}

/** An in-toto v0.1 statement about `subject`, as BuildKit and cosign write them. */
export function inTotoStatement(subject: { digest: Digest; name?: string }, predicateType: string, predicate: unknown): Record<string, unknown> {
  return {
    _type: "https://in-toto.io/Statement/v0.1",
    predicateType,
    subject: [{ name: subject.name ?? "image", digest: { sha256: subject.digest.slice("sha256:".length) } }],
    predicate: predicate ?? {},
  };
}

function statementBytes(subject: { digest: Digest }, attestation: Attestation): Uint8Array {
  if (attestation.body !== undefined) return toBytes(attestation.body);
  return encoder.encode(JSON.stringify(inTotoStatement(subject, attestation.predicateType, attestation.predicate)));
}

export interface PushedAttestation extends PushedManifest {
  /** The entry to put in the image's index beside the platform manifest it describes. */
  readonly entry: IndexEntry;
}

/**
 * An attestation manifest as BuildKit and cosign store them: an OCI image manifest with one annotated layer per
 * attestation, its config naming `os`/`architecture` `configPlatform`. Pushed under `tag`, else its digest.
 */
async function pushAttestationManifest(
  reg: TestRegistry,
  repository: string,
  spec: {
    readonly configPlatform: string;
    readonly layerMediaType: string;
    readonly layers: readonly { readonly body: Uint8Array; readonly annotations: Record<string, string> }[];
    readonly tag?: string;
  },
): Promise<PushedManifest> {
  const blobs = await Promise.all(spec.layers.map((l) => pushBlob(reg, repository, l.body)));
  const { configPlatform: platform } = spec;
  const config = encoder.encode(
    JSON.stringify({ architecture: platform, os: platform, config: {}, rootfs: { type: "layers", diff_ids: blobs.map((b) => b.digest) } }),
  );
  const configBlob = await pushBlob(reg, repository, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configBlob.digest, size: configBlob.size },
    layers: blobs.map((b, i) => ({
      mediaType: spec.layerMediaType,
      digest: b.digest,
      size: b.size,
      annotations: spec.layers[i]!.annotations,
    })),
  };
  return pushManifest(reg, repository, manifest, MediaType.OciManifest, spec.tag);
}

/**
 * A BuildKit attestation manifest for the platform manifest `subject`: layers of `application/vnd.in-toto+json`
 * annotated with `in-toto.io/predicate-type`. Put `entry` in the index (platform unknown/unknown, annotations
 * `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest`).
 */
export async function pushBuildkitAttestation(
  reg: TestRegistry,
  repository: string,
  subject: { digest: Digest },
  attestations: readonly Attestation[],
): Promise<PushedAttestation> {
  const pushed = await pushAttestationManifest(reg, repository, {
    configPlatform: "unknown",
    layerMediaType: MediaType.InToto,
    layers: attestations.map((a) => ({ body: statementBytes(subject, a), annotations: { "in-toto.io/predicate-type": a.predicateType } })),
  });
  const entry: IndexEntry = {
    ...descriptorOf(pushed),
    platform: UNKNOWN_PLATFORM,
    annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.digest },
  };
  return { ...pushed, entry };
}

/** The cosign tag for attestations of `digest`: `sha256-<hex>.att`. */
export const cosignAttestationTag = (digest: Digest): string => `${digest.replace(":", "-")}.att`;
/** The OCI 1.1 referrers tag schema tag for `digest`: `sha256-<hex>`. */
export const referrersTag = (digest: Digest): string => digest.replace(":", "-");

/**
 * A cosign attestation of `subject` under tag `sha256-<hex>.att`: one `application/vnd.dsse.envelope.v1+json`
 * layer per attestation, each a DSSE envelope whose payload is the base64 in-toto statement, annotated with
 * `predicateType`. Signatures are placeholders: nothing in digesta verifies them.
 */
export async function pushCosignAttestation(
  reg: TestRegistry,
  repository: string,
  subject: { digest: Digest },
  attestations: readonly Attestation[],
): Promise<PushedManifest & { tag: string }> {
  const tag = cosignAttestationTag(subject.digest);
  const pushed = await pushAttestationManifest(reg, repository, {
    configPlatform: "",
    layerMediaType: MediaType.DsseEnvelope,
    layers: attestations.map((a) => ({
      body: encoder.encode(
        JSON.stringify({
          payloadType: "application/vnd.in-toto+json",
          payload: Buffer.from(statementBytes(subject, a)).toString("base64"),
          signatures: [{ keyid: "", sig: Buffer.from("not a real signature").toString("base64") }],
        }),
      ),
      annotations: { "dev.cosignproject.cosign/signature": "", predicateType: a.predicateType },
    })),
    tag,
  });
  return { ...pushed, tag };
}

export interface ReferrerSpec {
  /** The manifest this artifact refers to. */
  readonly subject: { digest: Digest; size: number; mediaType: string };
  readonly artifactType: string;
  /** The artifact's blobs (an SBOM, an attestation…); default none. */
  readonly blobs?: readonly { mediaType: string; data: Uint8Array | string; annotations?: Record<string, string> }[];
  readonly annotations?: Record<string, string>;
}

/**
 * An OCI 1.1 artifact manifest with `subject` and `artifactType` (config: the empty descriptor). Distribution 2.8
 * has no referrers API: also call `pushReferrersTagIndex` with the returned `descriptor`s, as OCI 1.1 clients do.
 */
export async function pushReferrer(
  reg: TestRegistry,
  repository: string,
  spec: ReferrerSpec,
): Promise<PushedManifest & { descriptor: Descriptor }> {
  const [empty, ...blobs] = await Promise.all([
    pushBlob(reg, repository, "{}"),
    ...(spec.blobs ?? []).map((b) => pushBlob(reg, repository, b.data)),
  ]);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: spec.artifactType,
    config: { mediaType: MediaType.OciEmpty, digest: empty!.digest, size: empty!.size },
    layers: (spec.blobs ?? []).map((b, i) => ({
      mediaType: b.mediaType,
      digest: blobs[i]!.digest,
      size: blobs[i]!.size,
      ...(b.annotations ? { annotations: b.annotations } : {}),
    })),
    subject: descriptorOf(spec.subject),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const pushed = await pushManifest(reg, repository, manifest, MediaType.OciManifest);
  const descriptor = descriptorOf(pushed, { artifactType: spec.artifactType, ...(spec.annotations ? { annotations: spec.annotations } : {}) });
  return { ...pushed, descriptor };
}

/** The referrers tag schema fallback: an OCI index of `referrers` under tag `sha256-<hex>` of the subject. */
export function pushReferrersTagIndex(
  reg: TestRegistry,
  repository: string,
  subject: Digest,
  referrers: readonly Descriptor[],
): Promise<PushedManifest> {
  return pushIndex(reg, repository, referrers, { tag: referrersTag(subject) });
}

// ---------------------------------------------------------------------------------------------- scenarios

export interface BuildSpec {
  /** An index over these platforms; omitted: one single-platform manifest (linux/amd64). */
  readonly platforms?: readonly Platform[];
  /** Default oci. */
  readonly format?: ImageFormat;
  /** Distinguishes builds of the same tag (default 1): it changes a file and the created date. */
  readonly generation?: number;
  /** Extra files for each platform's image, after the build marker. */
  readonly files?: (platform: Platform) => LayerFile[];
  /** Adds a BuildKit provenance attestation manifest per platform to the index (oci only). */
  readonly attestations?: boolean;
}

export interface PushedBuild {
  /** What the tag points to: the index digest, or the manifest digest for a single-platform build. */
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly kind: "index" | "manifest";
  readonly images: readonly PushedImage[];
  /** Platform manifest digest by `platformKey` (`linux/arm/v7`). */
  readonly platforms: Readonly<Record<string, Digest>>;
  readonly index?: PushedManifest;
  readonly attestations?: readonly PushedAttestation[];
}

/** Pushes one build of `repository:tag`: a platform manifest per platform and, for several, an index. */
export async function pushBuild(reg: TestRegistry, repository: string, tag: string, spec: BuildSpec = {}): Promise<PushedBuild> {
  const generation = spec.generation ?? 1;
  const format = spec.format ?? "oci";
  const created = new Date(Date.UTC(2024, 0, 1) + generation * 86_400_000).toISOString();
  const build = async (platform: Platform, tagIt: boolean) => {
    const files = [
      directory("etc"),
      file("etc/digesta-build", `${repository}:${tag} generation ${generation} ${platformKey(platform)}\n`),
      ...(spec.files?.(platform) ?? []),
    ];
    return pushImage(reg, repository, { layers: [await layer(files)], platform, format, created }, tagIt ? tag : undefined);
  };
  if (!spec.platforms) {
    const image = await build(LINUX_AMD64, true);
    return { ...descriptorOf(image), kind: "manifest", images: [image], platforms: { [platformKey(image.platform)]: image.digest } };
  }
  const images = await Promise.all(spec.platforms.map((p) => build(p, false)));
  const attestations = spec.attestations
    ? await Promise.all(
        images.map((image) =>
          pushBuildkitAttestation(reg, repository, image, [
            { predicateType: "https://slsa.dev/provenance/v0.2", predicate: { builder: { id: "digesta-test" }, generation } },
          ]),
        ),
      )
    : undefined;
  const entries: IndexEntry[] = [
    ...images.map((image) => descriptorOf(image, { platform: image.platform })),
    ...(attestations ?? []).map((a) => a.entry),
  ];
  const index = await pushIndex(reg, repository, entries, { format, tag });
  return {
    ...descriptorOf(index),
    kind: "index",
    images,
    platforms: Object.fromEntries(images.map((image) => [platformKey(image.platform), image.digest])),
    index,
    ...(attestations ? { attestations } : {}),
  };
}

/** Pushes two builds of `repository:tag`; the second moves the tag. */
export async function movingTag(
  reg: TestRegistry,
  repository: string,
  tag: string,
  spec: Omit<BuildSpec, "generation"> = {},
): Promise<{ before: PushedBuild; after: PushedBuild }> {
  const before = await pushBuild(reg, repository, tag, { ...spec, generation: 1 });
  const after = await pushBuild(reg, repository, tag, { ...spec, generation: 2 });
  return { before, after };
}
