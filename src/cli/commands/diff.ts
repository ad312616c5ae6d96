import { diffImages } from "../../diff/image-diff.js";
import { renderImageDiffText } from "../../diff/markdown.js";
import { addVulnerabilities } from "../../engine/vulnerabilities.js";
import { parseReference } from "../../reference/parse.js";
import type { Digest, PinnedReference } from "../../reference/types.js";
import { createPinFollower } from "../../registry/follow.js";
import { memoizeManifests } from "../../registry/manifest-memo.js";
import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { parsePlatform } from "../platform.js";
import { vulnerabilitySources } from "../vulnerabilities.js";

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
  // One manifest memo for the run: what following the tag read (the pinned manifest, the tag's index), the diff and its
  // SBOM and scan lookups do not read again.
  const reader = memoizeManifests(context.registry);
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
    const followed = await createPinFollower(reader).follow(old as PinnedReference);
    to = followed.current;
  }
  const packages = await diffImages(reader, old, old.digest, to, {
    ...(platform ? { platform } : {}),
    ...(old.tag ? { tag: old.tag } : {}),
    logger: context.logger,
  });
  const diff = await addVulnerabilities(old, packages, vulnerabilitySources(context, reader), context.logger);
  if (options.json) writeJson(context, diff);
  else context.stdout.write(`${renderImageDiffText(diff)}\n`);
  // An unreadable side is not "no package changes": the answer is incomplete, and scripts must know.
  return diff.unreadable?.length ? ExitCode.Error : ExitCode.Ok;
}
