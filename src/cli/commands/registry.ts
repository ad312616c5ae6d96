import { diffImages } from "../../diff/image-diff.js";
import { addVulnerabilities } from "../../engine/vulnerabilities.js";
import { vulnerabilitySources } from "../context.js";
import { renderImageDiffText } from "../../diff/markdown.js";
import { formatReference } from "../../reference/format.js";
import { parseReference } from "../../reference/parse.js";
import type { Digest, ImageReference, PinnedReference } from "../../reference/types.js";
import { createPinFollower } from "../../registry/follow.js";
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

export async function resolveCommand(context: CliContext, image: string, options: { json?: boolean }): Promise<number> {
  const ref = taggedReference(image);
  const descriptor = await context.registry.headManifest(ref, ref.tag);
  if (options.json) {
    writeJson(context, { reference: formatReference({ ...ref, digest: undefined }), digest: descriptor.digest, mediaType: descriptor.mediaType });
  } else {
    context.stdout.write(`${descriptor.digest}\n`);
  }
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

/**
 * `diff IMAGE@OLD IMAGE@NEW`, or `diff IMAGE:TAG@OLD` against what the tag points to now (for a platform pin,
 * the same platform in the tag's current index).
 */
export async function diffCommand(
  context: CliContext,
  first: string,
  second: string | undefined,
  options: { json?: boolean; platform?: string },
): Promise<number> {
  const platform = options.platform ? parsePlatform(options.platform) : undefined;
  const old = parseReference(first);
  if (!old.digest) throw new UsageError(`"${first}" has no digest; give IMAGE@sha256:… or IMAGE:TAG@sha256:…`);
  let to: Digest;
  if (second !== undefined) {
    const next = parseReference(second);
    if (!next.digest) throw new UsageError(`"${second}" has no digest; give IMAGE@sha256:…`);
    if (next.registry !== old.registry || next.repository !== old.repository) {
      throw new UsageError(`both sides must name the same image; got ${old.registry}/${old.repository} and ${next.registry}/${next.repository}`);
    }
    to = next.digest;
  } else {
    if (!old.tag) throw new UsageError(`"${first}" has no tag to compare against; give IMAGE:TAG@OLD or two digests`);
    const followed = await createPinFollower(context.registry).follow(old as PinnedReference);
    to = followed.current;
  }
  const packages = await diffImages(context.registry, old, old.digest, to, {
    ...(platform ? { platform } : {}),
    ...(old.tag ? { tag: old.tag } : {}),
    logger: context.logger,
  });
  const diff = await addVulnerabilities(old, packages, vulnerabilitySources(context), context.logger);
  if (options.json) writeJson(context, diff);
  else context.stdout.write(`${renderImageDiffText(diff)}\n`);
  return ExitCode.Ok;
}
