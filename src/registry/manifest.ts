import { createHash } from "node:crypto";
import { z } from "zod";
import { isDigest } from "../reference/digest.js";
import type { Digest, Platform } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import { MediaType, type Descriptor } from "./types.js";

/** Largest manifest or index body we read (distribution itself refuses manifests over 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Every manifest type we understand; schema 1 is deliberately absent. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(", ");

const SCHEMA1_TYPES = new Set([
  "application/vnd.docker.distribution.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
]);

export function sha256Digest(bytes: Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}` as Digest;
}

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

/** `application/json; charset=utf-8` → `application/json`. */
export function bareMediaType(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const bare = contentType.split(";")[0]!.trim().toLowerCase();
  return bare === "" ? undefined : bare;
}

const digestSchema = z.string().refine(isDigest, { message: "not a sha256 digest" });

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

const indexSchema = z.object({ manifests: z.array(descriptorSchema).max(10_000) });

const imageManifestSchema = z.object({
  config: descriptorSchema,
  layers: z.array(descriptorSchema).max(10_000).default([]),
});

const configSchema = z.object({
  os: z.string().max(64).optional(),
  architecture: z.string().max(64).optional(),
  variant: z.string().max(64).optional(),
});

/** Parses bytes as a JSON object; an HTML page, text or an array is a BAD_RESPONSE naming `what`. */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new RegistryError("BAD_RESPONSE", `${what}: ${describeNonJson(bytes)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RegistryError("BAD_RESPONSE", `${what}: the body is JSON but not an object`);
  }
  return value as Record<string, unknown>;
}

function describeNonJson(bytes: Uint8Array): string {
  const start = Buffer.from(bytes.subarray(0, 512)).toString("utf8").trimStart().toLowerCase();
  if (start.startsWith("<!doctype html") || start.startsWith("<html") || start.startsWith("<")) {
    return "the registry answered with an HTML page instead of JSON";
  }
  if (start === "") return "the registry answered with an empty body instead of JSON";
  return "the body is not valid JSON";
}

/** The media type of a parsed manifest: its own `mediaType`, else the Content-Type, else inferred from its shape. */
export function manifestMediaType(json: Record<string, unknown>, contentType: string | undefined): string {
  const own = json["mediaType"];
  if (typeof own === "string" && own !== "") return own;
  if (contentType && contentType !== "application/json" && contentType !== "text/plain") return contentType;
  if (Array.isArray(json["manifests"])) return MediaType.OciIndex;
  return MediaType.OciManifest;
}

export function isSchema1(mediaType: string, json: Record<string, unknown>): boolean {
  return SCHEMA1_TYPES.has(mediaType) || json["schemaVersion"] === 1;
}

/** The entries of an index or manifest list; BAD_RESPONSE naming `what` when the body is not one. */
export function parseIndex(json: Record<string, unknown>, what: string): Descriptor[] {
  const parsed = indexSchema.safeParse(json);
  if (!parsed.success) throw new RegistryError("BAD_RESPONSE", `${what}: not a valid image index (${firstIssue(parsed.error)})`);
  return parsed.data.manifests.map(toDescriptor);
}

export interface ImageManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export function parseImageManifest(json: Record<string, unknown>, what: string): ImageManifest {
  const parsed = imageManifestSchema.safeParse(json);
  if (!parsed.success) throw new RegistryError("BAD_RESPONSE", `${what}: not a valid image manifest (${firstIssue(parsed.error)})`);
  return { config: toDescriptor(parsed.data.config), layers: parsed.data.layers.map(toDescriptor) };
}

/** The platform an image config declares, or undefined when it names none (artifacts, odd builders). */
export function platformOfConfig(json: Record<string, unknown>): Platform | undefined {
  const parsed = configSchema.safeParse(json);
  if (!parsed.success || !parsed.data.os || !parsed.data.architecture) return undefined;
  const { os, architecture, variant } = parsed.data;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * Platforms compare as containerd's normaliser does for the cases that matter: arm64 without a variant is
 * arm64/v8, and 32-bit arm without a variant is arm/v7.
 */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && normalVariant(a) === normalVariant(b);
}

function normalVariant(platform: Platform): string {
  const variant = platform.variant ?? "";
  if (platform.architecture === "arm64" && variant === "") return "v8";
  if (platform.architecture === "arm" && variant === "") return "v7";
  return variant;
}

type ParsedDescriptor = z.infer<typeof descriptorSchema>;

function toDescriptor(d: ParsedDescriptor): Descriptor {
  const platform: Platform | undefined = d.platform
    ? d.platform.variant
      ? { os: d.platform.os, architecture: d.platform.architecture, variant: d.platform.variant }
      : { os: d.platform.os, architecture: d.platform.architecture }
    : undefined;
  return {
    mediaType: d.mediaType,
    digest: d.digest as Digest,
    size: d.size,
    ...(platform ? { platform } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
  };
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const path = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return `${path}${issue.message}`.slice(0, 160);
}
