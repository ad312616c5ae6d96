import type { Digest, PinnedReference } from "../../src/reference/types.js";
import type { PinnedOccurrence, SkippedOccurrence, TextScan } from "../../src/scan/types.js";

/** A digest made of one repeated hex character: `digest("a")` = sha256:aaaa…. */
export function digest(fill: string): Digest {
  return `sha256:${fill.repeat(64).slice(0, 64)}` as Digest;
}

export function pinnedReference(overrides: Partial<PinnedReference> = {}): PinnedReference {
  return { registry: "cgr.dev", repository: "chainguard/static", tag: "latest", digest: digest("a"), ...overrides };
}

/** A pinned occurrence; offsets are consistent with a file where the reference text starts at `offset`. */
export function pinnedOccurrence(overrides: Partial<Omit<PinnedOccurrence, "reference">> & { reference?: Partial<PinnedReference> } = {}): PinnedOccurrence {
  const reference = pinnedReference(overrides.reference);
  const text = `${reference.registry}/${reference.repository}:${reference.tag}@${reference.digest}`;
  const offset = overrides.offset ?? 0;
  return {
    path: "deploy.yaml",
    line: 1,
    column: offset + 1,
    text,
    ...overrides,
    offset,
    reference,
    digestOffset: overrides.digestOffset ?? offset + text.indexOf("@") + 1,
  };
}

export function skippedOccurrence(overrides: Partial<SkippedOccurrence> = {}): SkippedOccurrence {
  return {
    path: "deploy.yaml",
    line: 1,
    column: 1,
    offset: 0,
    text: `alpine@${digest("c")}`,
    reference: { registry: "docker.io", repository: "library/alpine", digest: digest("c") },
    reason: "no tag to follow (digest-only reference)",
    ...overrides,
  };
}

export function textScan(pinned: PinnedOccurrence[], skipped: SkippedOccurrence[] = []): TextScan {
  return { pinned, skipped };
}
