/**
 * The distribution reference grammar (github.com/distribution/reference, regexp.go), one check per part,
 * each returning why the text fails or undefined when it is valid.
 */

/** Longest repository name, domain included (distribution's NameTotalLengthMax). */
export const NAME_MAX_LENGTH = 255;
/** Longest tag: one leading word character and up to 127 more. */
export const TAG_MAX_LENGTH = 128;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function tagProblem(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined;
  if (tag === "") return "empty tag after ':'";
  if (tag.length > TAG_MAX_LENGTH) return `tag is ${tag.length} characters long; at most ${TAG_MAX_LENGTH} are allowed`;
  if (!/^[A-Za-z0-9_]/.test(tag)) return `tag ${JSON.stringify(tag.slice(0, 20))} must start with a letter, digit or '_'`;
  return "tags may contain only letters, digits, '_', '.' and '-'";
}

/** `host`, `host:port`, `[ipv6]` or `[ipv6]:port`. */
export function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith("[")) {
    const close = domain.indexOf("]");
    if (close < 0) return "unterminated '[' in registry host";
    host = domain.slice(0, close + 1);
    const rest = domain.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "unexpected text after ']' in registry host";
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) return "invalid IPv6 registry host";
  } else {
    const colon = domain.indexOf(":");
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (!DOMAIN_NAME.test(host)) return `invalid registry host ${JSON.stringify(host.slice(0, 64))}`;
  }
  if (port !== undefined && !PORT.test(port)) return "registry port must be digits";
  return undefined;
}

/** A `/`-separated repository path on a registry. */
export function pathProblem(path: string): string | undefined {
  for (const component of path.split("/")) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component === "") return "empty path component (a leading, trailing or doubled '/')";
    if (/[A-Z]/.test(component)) return "repository names must be lowercase";
    return `invalid path component ${JSON.stringify(component.slice(0, 64))}: use lowercase letters and digits separated by '.', '_', '__' or '-'`;
  }
  return undefined;
}

/**
 * Docker's rule: the first component names a registry only if it contains `.` or `:` (a port, or IPv6),
 * or is `localhost`; otherwise the whole name is a path on Docker Hub.
 */
export function splitDomain(name: string): { domain?: string; path: string } {
  const slash = name.indexOf("/");
  if (slash < 0) return { path: name };
  const first = name.slice(0, slash);
  if (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[")) {
    return { domain: first, path: name.slice(slash + 1) };
  }
  return { path: name };
}
