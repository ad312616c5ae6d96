import { DOCKER_HUB } from "./name.js";
import type { Digest, ImageName, ImageReference, Platform } from "./types.js";

/** The canonical text of a reference: `docker.io/library/nginx:1.25@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  let text = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}

/** Docker's short form: `nginx`, `bitnami/redis`, `cgr.dev/chainguard/static`. */
export function familiarName(name: ImageName): string {
  if (name.registry !== DOCKER_HUB) return `${name.registry}/${name.repository}`;
  const rest = name.repository.startsWith("library/") ? name.repository.slice(8) : name.repository;
  return rest.includes("/") ? name.repository : rest;
}

/** `linux/amd64`, `linux/arm/v7`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

/** `sha256:` and the first `length` hex digits, for display. */
export function shortDigest(digest: Digest, length = 12): string {
  return digest.slice(0, 7 + Math.max(0, length));
}

/**
 * The tag spelling of a digest, `sha256-<hex>`: the OCI referrers tag schema, and with `.sig` or `.att` the tags
 * cosign keeps signatures and attestations under.
 */
export function digestTag(digest: Digest, suffix = ""): string {
  return `${digest.replace(":", "-")}${suffix}`;
}

/** Map key for one repository. */
export function imageKey(name: ImageName): string {
  return `${name.registry}/${name.repository}`;
}

/** Map key for one tag of one repository. */
export function tagKey(name: ImageName, tag: string): string {
  return `${name.registry}/${name.repository}:${tag}`;
}
