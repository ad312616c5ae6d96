import picomatch from "picomatch";
import type { PinnedReference } from "../reference/types.js";

/**
 * A `skip` function for the resolver: pins whose normalised name (`docker.io/library/nginx`), or name and tag
 * (`docker.io/library/nginx:1.27`), matches one of the configuration's `ignore` globs are left alone, with why.
 */
export function createIgnoreMatcher(patterns: readonly string[]): (ref: PinnedReference) => string | undefined {
  if (patterns.length === 0) return () => undefined;
  const matchers = patterns.map((pattern) => ({ pattern, test: picomatch(pattern, { dot: true }) }));
  return (ref) => {
    const name = `${ref.registry}/${ref.repository}`;
    const withTag = `${name}:${ref.tag}`;
    const hit = matchers.find((m) => m.test(name) || m.test(withTag));
    return hit ? `ignored by configuration (\`${hit.pattern}\`)` : undefined;
  };
}
