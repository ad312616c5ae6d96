import { z } from "zod";
import type { Digest, ImageName, Platform } from "../reference/types.js";
import { MediaType, type Descriptor, type FetchedManifest, type Registry } from "../registry/types.js";

export const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

/** Most entries read from an index or layers from a manifest; anything longer is not an image digesta handles. */
const MAX_DESCRIPTORS = 4096;

const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, "not a sha256 digest");
const platformSchema = z.object({
  os: z.string().max(64),
  architecture: z.string().max(64),
  variant: z.string().max(64).optional(),
});
const descriptorSchema = z.object({
  mediaType: z.string().max(256),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  platform: platformSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().max(256).optional(),
});
const indexSchema = z.object({ manifests: z.array(descriptorSchema).max(MAX_DESCRIPTORS) });
const manifestSchema = z.object({
  config: descriptorSchema,
  layers: z.array(descriptorSchema).max(MAX_DESCRIPTORS),
  artifactType: z.string().max(256).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const configSchema = z.object({ os: z.string().max(64), architecture: z.string().max(64), variant: z.string().max(64).optional() });

export interface ImageIndex {
  readonly manifests: readonly Descriptor[];
}

export interface ImageManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Thrown when a registry answer is not the JSON shape it claims to be. */
export class ManifestShapeError extends Error {
  override readonly name = "ManifestShapeError";
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : "invalid";
}

export function isIndex(fetched: Pick<FetchedManifest, "mediaType" | "json">): boolean {
  if (fetched.mediaType === MediaType.OciIndex || fetched.mediaType === MediaType.DockerManifestList) return true;
  return Array.isArray(fetched.json["manifests"]) && !("layers" in fetched.json);
}

export function parseIndex(fetched: FetchedManifest): ImageIndex {
  const parsed = indexSchema.safeParse(fetched.json);
  if (!parsed.success) throw new ManifestShapeError(`index ${fetched.digest} is malformed (${describeIssue(parsed.error)})`);
  return { manifests: parsed.data.manifests.map(toDescriptor) };
}

export function parseManifest(fetched: FetchedManifest): ImageManifest {
  const parsed = manifestSchema.safeParse(fetched.json);
  if (!parsed.success) throw new ManifestShapeError(`manifest ${fetched.digest} is malformed (${describeIssue(parsed.error)})`);
  const { config, layers, artifactType, annotations } = parsed.data;
  return {
    config: toDescriptor(config),
    layers: layers.map(toDescriptor),
    ...(artifactType !== undefined && { artifactType }),
    ...(annotations !== undefined && { annotations }),
  };
}

function toDescriptor(d: z.infer<typeof descriptorSchema>): Descriptor {
  return { ...d, digest: d.digest as Digest } as Descriptor;
}

/** `linux/arm64/v8`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

/** The variant arm64 images have when they name none (`linux/arm64` is `linux/arm64/v8`). */
function normalVariant(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === "arm64") return "v8";
  return undefined;
}

/**
 * The index entry for `wanted`: same os and architecture, and the same variant when `wanted` names one.
 * `unknown/unknown` entries (BuildKit attestation manifests) never match.
 */
export function selectPlatform(index: ImageIndex, wanted: Platform): Descriptor | undefined {
  const candidates = index.manifests.filter(
    (d) =>
      d.platform !== undefined &&
      d.platform.os !== "unknown" &&
      d.platform.os === wanted.os &&
      d.platform.architecture === wanted.architecture &&
      d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest",
  );
  const variant = normalVariant(wanted);
  if (variant !== undefined && wanted.variant !== undefined) return candidates.find((d) => normalVariant(d.platform!) === variant);
  return candidates.find((d) => normalVariant(d.platform!) === variant) ?? candidates[0];
}

/** One side of a diff, down to the image of one platform. */
export interface PlatformImage {
  /** The digest of the image manifest compared: the pin itself, or its entry in the index for the platform. */
  readonly digest: Digest;
  readonly manifest: ImageManifest;
  /** The index the pin points to, when it is one (BuildKit keeps attestation manifests there). */
  readonly index?: ImageIndex;
}

/** The pin's manifest: an index or an image manifest, parsed. */
export type PinnedManifest = { readonly kind: "index"; readonly digest: Digest; readonly index: ImageIndex } | { readonly kind: "image"; readonly digest: Digest; readonly manifest: ImageManifest };

export async function fetchPinned(registry: Registry, name: ImageName, digest: Digest): Promise<PinnedManifest> {
  const fetched = await registry.getManifest(name, digest);
  if (isIndex(fetched)) return { kind: "index", digest, index: parseIndex(fetched) };
  return { kind: "image", digest, manifest: parseManifest(fetched) };
}

/** The platform an image manifest was built for, from its config (`os`, `architecture`, `variant`). */
export async function platformOfImage(registry: Registry, name: ImageName, manifest: ImageManifest): Promise<Platform | undefined> {
  const bytes = await registry.getBlob(name, manifest.config.digest, 1024 * 1024);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { os, architecture, variant } = parsed.data;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** The image of `platform` the pin stands for. Throws ManifestShapeError or RegistryError; NO_PLATFORM-like cases as ManifestShapeError. */
export async function resolvePlatformImage(registry: Registry, name: ImageName, pinned: PinnedManifest, platform: Platform): Promise<PlatformImage> {
  if (pinned.kind === "image") return { digest: pinned.digest, manifest: pinned.manifest };
  const entry = selectPlatform(pinned.index, platform);
  if (!entry) {
    const offered = pinned.index.manifests
      .filter((d) => d.platform && d.platform.os !== "unknown")
      .map((d) => formatPlatform(d.platform!))
      .join(", ");
    throw new PlatformNotFoundError(`no ${formatPlatform(platform)} image in index ${pinned.digest}${offered ? ` (it has ${offered})` : ""}`);
  }
  const fetched = await registry.getManifest(name, entry.digest);
  if (isIndex(fetched)) throw new ManifestShapeError(`the ${formatPlatform(platform)} entry of index ${pinned.digest} is itself an index`);
  return { digest: entry.digest, manifest: parseManifest(fetched), index: pinned.index };
}

export class PlatformNotFoundError extends Error {
  override readonly name = "PlatformNotFoundError";
}
