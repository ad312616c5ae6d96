import type { Hash } from "node:crypto";
import { isDigest } from "../reference/digest.js";
import type { Digest, Platform } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import { SMALL_BODY_BYTES, sha256Hex } from "./sha256.js";
import { ShapeError, array, count, object, optionalString, orElse, string, stringRecord } from "./json-shape.js";
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
  return `sha256:${bytes.length <= SMALL_BODY_BYTES ? sha256Hex(bytes) : sha256().update(bytes).digest("hex")}` as Digest;
}

/**
 * A SHA-256 hash. node:crypto (some thirty modules) loads with the first one, not at start-up: a resolve that reads
 * the digest from a HEAD hashes nothing.
 */
export function sha256(): Hash {
  return process.getBuiltinModule("node:crypto").createHash("sha256");
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

type Path = readonly (string | number)[];

function readDigest(value: unknown, path: Path): Digest {
  const text = string(value, path);
  if (!isDigest(text)) throw new ShapeError(path, "not a sha256 digest");
  return text as Digest;
}

function readPlatform(value: unknown, path: Path): Platform {
  const json = object(value, path);
  const os = string(json["os"], [...path, "os"], 64);
  const architecture = string(json["architecture"], [...path, "architecture"], 64);
  const variant = optionalString(json["variant"], [...path, "variant"], 64);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function readDescriptor(value: unknown, path: Path): Descriptor {
  const json = object(value, path);
  const mediaType = string(json["mediaType"], [...path, "mediaType"], 256);
  const digest = readDigest(json["digest"], [...path, "digest"]);
  const size = count(json["size"], [...path, "size"]);
  const platform = json["platform"] === undefined ? undefined : readPlatform(json["platform"], [...path, "platform"]);
  const annotations = json["annotations"] === undefined ? undefined : stringRecord(json["annotations"], [...path, "annotations"]);
  const artifactType = optionalString(json["artifactType"], [...path, "artifactType"], 256);
  return {
    mediaType,
    digest,
    size,
    ...(platform ? { platform } : {}),
    ...(annotations ? { annotations } : {}),
    ...(artifactType ? { artifactType } : {}),
  };
}

function readDescriptors(value: unknown, path: Path): Descriptor[] {
  return array(value, path, 10_000).map((entry, i) => readDescriptor(entry, [...path, i]));
}

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
  try {
    return readDescriptors(json["manifests"], ["manifests"]);
  } catch (error) {
    throw shapeFailure(error, `${what}: not a valid image index`);
  }
}

export interface ImageManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

export function parseImageManifest(json: Record<string, unknown>, what: string): ImageManifest {
  try {
    const config = readDescriptor(json["config"], ["config"]);
    const layers = json["layers"] === undefined ? [] : readDescriptors(json["layers"], ["layers"]);
    return { config, layers };
  } catch (error) {
    throw shapeFailure(error, `${what}: not a valid image manifest`);
  }
}

/**
 * Throws BAD_RESPONSE unless `json` is the index or image manifest its media type says: a digest is written into a
 * file only when it names something that can be pulled, whatever the registry answered under it.
 */
export function assertManifestShape(manifest: { readonly mediaType: string; readonly json: Record<string, unknown> }, what: string): void {
  const { json } = manifest;
  const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);
  if (isIndexMediaType(manifest.mediaType) ? Array.isArray(json["manifests"]) : isObject(json["config"]) && (json["layers"] === undefined || Array.isArray(json["layers"]))) return;
  throw new RegistryError(
    "BAD_RESPONSE",
    `${what}: not a valid ${isIndexMediaType(manifest.mediaType) ? "image index (no manifests list)" : "image manifest (no config, or layers that are no list)"}; refusing its digest`,
  );
}

/** The platform an image config declares, or undefined when it names none (artifacts, odd builders). */
export function platformOfConfig(json: Record<string, unknown>): Platform | undefined {
  return orElse(() => {
    const os = optionalString(json["os"], ["os"], 64);
    const architecture = optionalString(json["architecture"], ["architecture"], 64);
    const variant = optionalString(json["variant"], ["variant"], 64);
    if (!os || !architecture) return undefined;
    return variant ? { os, architecture, variant } : { os, architecture };
  }, undefined);
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

/** A shape problem as the BAD_RESPONSE naming what was read; anything else as it is. */
function shapeFailure(error: unknown, message: string): unknown {
  if (!(error instanceof ShapeError)) return error;
  return new RegistryError("BAD_RESPONSE", `${message} (${error.message.slice(0, 160)})`);
}
