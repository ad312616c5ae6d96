import { digestProblem, isDigest } from "./digest.js";
import { InvalidReferenceError } from "./errors.js";
import { tagProblem } from "./grammar.js";
import { normaliseNameParts } from "./name.js";
import type { Digest, ImageReference } from "./types.js";

/** Longer text cannot be a reference (name 255, `:` and tag 128, `@` and digest 71); checked first so hostile input costs little. */
const REFERENCE_MAX_LENGTH = 255 + 1 + 128 + 1 + 71;

/** Parses and normalises a reference, or says why it is not one. */
export function analyseReference(text: string): ImageReference | string {
  if (text.length > REFERENCE_MAX_LENGTH) return `longer than ${REFERENCE_MAX_LENGTH} characters`;
  let rest = text;
  let digest: Digest | undefined;
  const at = text.indexOf("@");
  if (at >= 0) {
    const written = text.slice(at + 1);
    if (!isDigest(written)) return digestProblem(written);
    digest = written;
    rest = text.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    const problem = tagProblem(tag);
    if (problem) return problem;
    rest = rest.slice(0, colon);
  }
  const name = normaliseNameParts(rest);
  if (typeof name === "string") return name;
  return {
    registry: name.registry,
    repository: name.repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * Parses what a user types (`nginx:1.25`, `cgr.dev/chainguard/static:latest@sha256:…`, `[::1]:5000/x:y`)
 * and normalises it the way Docker does. Throws InvalidReferenceError saying what is wrong.
 */
export function parseReference(text: string): ImageReference {
  const parsed = analyseReference(text);
  if (typeof parsed === "string") throw new InvalidReferenceError(text, parsed);
  return parsed;
}

/** parseReference without the exception: undefined when the text is not a reference. */
export function tryParseReference(text: string): ImageReference | undefined {
  const parsed = analyseReference(text);
  return typeof parsed === "string" ? undefined : parsed;
}
