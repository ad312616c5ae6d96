import { domainProblem, NAME_MAX_LENGTH, pathProblem, splitDomain } from "./grammar.js";
import { InvalidReferenceError } from "./errors.js";
import type { ImageName } from "./types.js";

export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** The registry as written in normalised names: lowercase host, Docker Hub's aliases folded into `docker.io`. */
export function normaliseRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * Docker's normalisation of a repository name: no registry means Docker Hub, and a single-component
 * path on Docker Hub is an official image under `library/`. Returns why it fails, or the name.
 */
export function normaliseNameParts(name: string): ImageName | string {
  if (name === "") return "empty image name";
  const { domain, path } = splitDomain(name);
  if (domain !== undefined) {
    const problem = domainProblem(domain);
    if (problem) return problem;
  } else if (/^[a-f0-9]{64}$/.test(path)) {
    return "a 64-character hexadecimal string is an image ID, not a repository name";
  }
  const pathIssue = pathProblem(path);
  if (pathIssue) return pathIssue;
  const registry = domain === undefined ? DOCKER_HUB : normaliseRegistry(domain);
  const repository = registry === DOCKER_HUB && !path.includes("/") ? `library/${path}` : path;
  if (registry.length + 1 + repository.length > NAME_MAX_LENGTH) {
    return `repository name must not be longer than ${NAME_MAX_LENGTH} characters`;
  }
  return { registry, repository };
}

/** Parses and normalises a bare repository name (`nginx` → docker.io/library/nginx); no tag or digest. */
export function normaliseName(name: string): ImageName {
  const parsed = normaliseNameParts(name);
  if (typeof parsed === "string") throw new InvalidReferenceError(name, parsed, "image name");
  return parsed;
}

/** The host to talk to for a registry: Docker Hub's API lives at registry-1.docker.io. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
}
