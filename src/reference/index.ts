export type { Digest, ImageName, ImageReference, PinnedReference, Platform } from "./types.js";
export { InvalidReferenceError } from "./errors.js";
export { DIGEST_LENGTH, isDigest, parseDigest } from "./digest.js";
export { analyseReference, parseReference, tryParseReference } from "./parse.js";
export { DOCKER_HUB, normaliseName, normaliseRegistry, registryEndpoint } from "./name.js";
export { familiarName, formatPlatform, formatReference, imageKey, shortDigest, tagKey } from "./format.js";
