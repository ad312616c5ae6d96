import type { PinSyntax } from "./types.js";

/** A stretch of text that the syntax around it makes an image reference, before its value is judged. */
export interface Site {
  /** Byte offset of the value's first character. */
  readonly offset: number;
  /** The value as written (quotes and any `docker://` already stripped). */
  readonly value: string;
  readonly syntax: PinSyntax;
  /** Why a reference here names an image that is not pulled (so not pinned), though the syntax is an image's. */
  readonly notPulled?: string;
}

/** Physical lines of `text` with their offsets; a trailing `\r` is left out of the line. */
export function* lines(text: string): Generator<{ readonly start: number; readonly line: string }> {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    const next = end < 0 ? text.length + 1 : end + 1;
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === 0x0d /* \r */ ? text.slice(start, end - 1) : text.slice(start, end);
    yield { start, line };
    start = next;
  }
}

const DOCKER_SCHEME = "docker://";

/** A site for `value` at `offset`, with a `docker://` prefix stripped when `scheme` allows or requires it. */
export function siteOf(offset: number, value: string, syntax: PinSyntax, scheme: "strip" | "require" | "none" = "none"): Site | undefined {
  if (scheme !== "none" && value.startsWith(DOCKER_SCHEME)) {
    return { offset: offset + DOCKER_SCHEME.length, value: value.slice(DOCKER_SCHEME.length), syntax };
  }
  return scheme === "require" ? undefined : { offset, value, syntax };
}
