import picomatch from "picomatch";
import type { Digest, ImageName } from "../reference/types.js";

/** A pin, or a tagged reference not pinned yet. */
type TaggedName = ImageName & { readonly tag: string; readonly digest?: Digest };

/**
 * A `skip` function for the resolver: pins whose normalised name (`docker.io/library/nginx`) matches one of the
 * configuration's `ignore` globs are left alone, with why. A pattern may end with `:TAG-GLOB` to ignore only some
 * tags: `ghcr.io/acme/**:edge`, `docker.io/library/node:*-alpine`.
 */
export function createIgnoreMatcher(patterns: readonly string[]): (ref: TaggedName) => string | undefined {
  if (patterns.length === 0) return () => undefined;
  const matchers = patterns.map((pattern) => {
    // A colon after the last slash starts the tag part (one before it is a registry port).
    const colon = pattern.lastIndexOf(":");
    const split = colon > pattern.lastIndexOf("/");
    const name = picomatch(split ? pattern.slice(0, colon) : pattern, { dot: true });
    const tag = split ? picomatch(pattern.slice(colon + 1), { dot: true }) : () => true;
    return { pattern, test: (ref: TaggedName) => name(`${ref.registry}/${ref.repository}`) && tag(ref.tag) };
  });
  return (ref) => {
    const hit = matchers.find((m) => m.test(ref));
    return hit ? `ignored by configuration (\`${hit.pattern}\`)` : undefined;
  };
}
