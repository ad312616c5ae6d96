import { formatPlatform, formatReference } from "../../reference/format.js";
import { parseReference } from "../../reference/parse.js";
import type { Digest, ImageReference, Platform } from "../../reference/types.js";
import { readImagePlatform } from "../../registry/image-config.js";
import { assertManifestShape, parseImageManifest, parseIndex, samePlatform } from "../../registry/manifest.js";
import type { FetchedManifest, Registry } from "../../registry/types.js";
import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { parsePlatform } from "../platform.js";

/** A reference given on the command line; a missing tag means `latest`, as for `docker pull`. */
function taggedReference(text: string): ImageReference & { tag: string } {
  const ref = parseReference(text);
  if (ref.digest && !ref.tag) throw new UsageError(`"${text}" names a digest, not a tag; give IMAGE:TAG`);
  return { ...ref, tag: ref.tag ?? "latest" };
}

/** `resolve IMAGE[:TAG] [--platform P]`: the digest the tag points to now, or that of one platform's image in it (as `crane digest --platform`). */
export async function resolveCommand(context: CliContext, image: string, options: { json?: boolean; platform?: string }): Promise<number> {
  const ref = taggedReference(image);
  const wanted = options.platform ? parsePlatform(options.platform) : undefined;
  // The manifest, checked against the digest the registry states: a HEAD's Docker-Content-Digest is only a claim.
  const fetched = await context.registry.getManifest(ref, ref.tag);
  assertManifestShape(fetched, `${formatReference({ ...ref, digest: undefined })} (${fetched.digest})`);
  const descriptor = { digest: fetched.digest, mediaType: fetched.mediaType };
  const resolved = wanted ? await platformImage(context.registry, ref, fetched, wanted) : descriptor;
  if (options.json) {
    writeJson(context, {
      reference: formatReference({ ...ref, digest: undefined }),
      digest: resolved.digest,
      mediaType: resolved.mediaType,
      ...(wanted ? { platform: formatPlatform(wanted), index: descriptor.digest === resolved.digest ? undefined : descriptor.digest } : {}),
    });
  } else {
    context.stdout.write(`${resolved.digest}\n`);
  }
  return ExitCode.Ok;
}

/** The image of `platform` under `digest`: its entry in an index, or the image itself when it is that platform's. */
async function platformImage(registry: Registry, ref: ImageReference, manifest: FetchedManifest, platform: Platform): Promise<{ digest: Digest; mediaType: string }> {
  const digest = manifest.digest;
  const what = `${formatReference({ ...ref, digest: undefined })}@${digest}`;
  if (Array.isArray(manifest.json["manifests"])) {
    const entries = parseIndex(manifest.json, what);
    const entry = entries.find((e) => e.platform && samePlatform(e.platform, platform));
    if (entry) return { digest: entry.digest, mediaType: entry.mediaType };
    const offered = entries.flatMap((e) => (e.platform && e.platform.os !== "unknown" ? [formatPlatform(e.platform)] : []));
    throw new UsageError(`${what} has no ${formatPlatform(platform)} image; it has ${offered.length ? offered.join(", ") : "no platform images"}`);
  }
  const own = await readImagePlatform(registry, ref, parseImageManifest(manifest.json, what).config.digest);
  if (own && !samePlatform(own, platform)) {
    throw new UsageError(`${what} is a single ${formatPlatform(own)} image, not ${formatPlatform(platform)}`);
  }
  return { digest, mediaType: manifest.mediaType };
}

/** `ls IMAGE`: the repository's tags, one per line, every page of them. */
export async function listCommand(context: CliContext, image: string, options: { json?: boolean }): Promise<number> {
  const ref = parseReference(image);
  if (ref.tag !== undefined || ref.digest !== undefined) throw new UsageError(`"${image}" names a tag or digest; give the repository alone, e.g. ${formatReference({ registry: ref.registry, repository: ref.repository })}`);
  const tags = await context.registry.listTags({ registry: ref.registry, repository: ref.repository });
  if (options.json) writeJson(context, tags);
  else for (const tag of tags) context.stdout.write(`${tag}\n`);
  return ExitCode.Ok;
}

export async function historyCommand(context: CliContext, image: string, options: { json?: boolean }): Promise<number> {
  const ref = taggedReference(image);
  const history = await context.registry.tagHistory(ref, ref.tag);
  if (options.json) {
    writeJson(context, history.map((entry) => ({ updateTimestamp: entry.updateTimestamp.toISOString(), digest: entry.digest })));
  } else {
    for (const entry of history) context.stdout.write(`${entry.updateTimestamp.toISOString()}\t${entry.digest}\n`);
  }
  return ExitCode.Ok;
}
