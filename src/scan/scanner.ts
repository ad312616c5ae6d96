import { domainProblem, pathProblem, splitDomain, tagProblem } from "../reference/grammar.js";
import { tryParseReference } from "../reference/parse.js";
import type { PinnedReference } from "../reference/types.js";
import type { PinnedOccurrence, SkippedOccurrence, TextScan } from "./types.js";

/*
 * How a reference is recognised in text of any syntax (YAML, Dockerfile, shell, Makefile, HCL, JSON, Markdown):
 *
 * - Every candidate contains `@sha256:`; the scanner finds those with indexOf and works outwards, so text
 *   without one costs a single search.
 * - After `@sha256:` come exactly 64 lowercase hex digits, and then the end of the text or a character that
 *   cannot continue a digest (not a letter, digit, `_`, `-`, `=`, `@` or `/`). Truncated, longer or uppercase
 *   digests are not references.
 * - Backwards from the `@`, the name and tag are the longest run of reference characters (letters, digits,
 *   `.`, `_`, `-`, `/`, `:`, plus a bracketed IPv6 host). That whole run must parse as a reference: a run that
 *   does not (say `Cgr.dev/Chainguard/Static:latest`) is rejected, never clipped to a valid tail.
 * - The run must start at the start of the text or after a boundary: whitespace or another control character,
 *   a quote or backtick, one of `=([{<>,;|*`, or a byte ≥ 0x80 (UTF-8 punctuation such as curly quotes).
 *   Anything else before it (`$`, `}`, `)`, `@`, `%`, `\`, `]`, …) means the text is part of something larger,
 *   such as `${REGISTRY}name:tag@…`, and is not a reference.
 * - Two prefixes are understood: `docker://` (GitHub Actions), stripped from the reference, and shell
 *   parameter defaults `${NAME:-ref}`, `${NAME-ref}`, `${NAME:=ref}`, `${NAME:+ref}`, `${NAME:?ref}`.
 * - Inside a URL (`https://example.com/x:y@sha256:…`) the run starts at the scheme and does not parse, so a
 *   link is never taken for a pin: rewriting links is not this tool's business.
 * - A run that would be a reference but for its registry host (`fake_repo.azurecr.io/x:1@…`) is reported as
 *   skipped with why, so that a pin nobody can follow does not pass unnoticed. A digest-only run that reads as a
 *   version (`v1.35.1@sha256:…`, a tool's checksum pin) is skipped as not an image.
 * - A pin on a line holding a `digesta:ignore` comment, in any common comment syntax (`# digesta:ignore`,
 *   `// …`, `-- …`, `/* … *\/`, `<!-- … -->`, `; …`), is skipped: it is left as it is, on purpose.
 */

const DIGEST_MARK = "@sha256:";
const HEX_LENGTH = 64;
/** `:` + a 128-character tag + a 255-character name + `docker://`, rounded up: runs longer than this are not references. */
const MAX_NAME_AND_TAG = 400;
const DOCKER_SCHEME = "docker://";
export const DIGEST_ONLY_REASON = "no tag to follow (digest-only reference)";
export const VERSION_REASON = "a version with a digest, not an image reference";
export const IGNORE_COMMENT_REASON = "ignored by a digesta:ignore comment on its line";
export const IGNORE_MARK = "digesta:ignore";
/** A comment opener, then `digesta:ignore` as a whole word (not `digesta:ignored`, not `digesta:ignore-x`). */
export const IGNORE_COMMENT = /(?:#|\/\/|--|\/\*|<!--|;)\s*digesta:ignore(?![\w-])/;
/** `v1.35.1`, `1.2`, `v2`: a digest-only run made of a version and nothing else. */
const VERSION_LIKE = /^v?\d+(?:\.\d+)*(?:[-+][0-9A-Za-z.-]+)?$/;

const enum Char {
  Reference = 1,
  Boundary = 2,
  DigestEnd = 4,
  Hex = 8,
  ShellName = 16,
  Ipv6 = 32,
}

const CLASS = new Uint8Array(256);
function mark(chars: string, flag: Char): void {
  for (let i = 0; i < chars.length; i++) CLASS[chars.charCodeAt(i)]! |= flag;
}
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const DIGITS = "0123456789";
mark(LOWER + UPPER + DIGITS + "._-/:", Char.Reference);
mark(LOWER + UPPER + DIGITS + "_-=@/", Char.DigestEnd);
mark(DIGITS + "abcdef", Char.Hex);
mark(LOWER + UPPER + DIGITS + "_", Char.ShellName);
mark(DIGITS + "abcdefABCDEF:", Char.Ipv6);
mark(" \"'`=([{<>,;|*", Char.Boundary);
for (let c = 0; c < 0x20; c++) CLASS[c]! |= Char.Boundary;
for (let c = 0x7f; c < 0x100; c++) CLASS[c]! |= Char.Boundary;

/** Whether the byte at `index` is in class `flag`. */
function has(codes: Uint8Array, index: number, flag: Char): boolean {
  return (CLASS[codes[index]!]! & flag) !== 0;
}

/**
 * Finds every `name:tag@sha256:…` pin in a text. Offsets, lines and columns count UTF-16 code units, which for a
 * file decoded as latin1 are bytes (a file's own scan goes through `scanBytes` and never decodes it whole).
 * Digest-only references are reported as skipped.
 */
export function scanText(path: string, text: string): TextScan {
  const codes = codesOf(text);
  return scanCodes(path, codes, indexOfDigestMark(codes, 0), (start, end) => detach(text, start, end));
}

/**
 * `scanText` of a file's bytes read as latin1, without decoding them: only each reference, and the line of one
 * where a `digesta:ignore` may be, become strings. `first` is where the first `@sha256:` is, when the caller
 * has already looked.
 */
export function scanBytes(path: string, bytes: Buffer, first: number = indexOfDigestMark(bytes, 0)): TextScan {
  return scanCodes(path, bytes, first, (start, end) => bytes.toString("latin1", start, end));
}

/** `@sha256:` as bytes; read.ts also writes it after each file as the search's sentinel. */
export const DIGEST_MARK_BYTES = Buffer.from(DIGEST_MARK, "latin1");
/** `@`, the mark's rarest byte in text, and how many times it may turn up without the rest of the mark. */
const AT = 0x40;
const FALSE_STARTS = 16;
/** Beyond FALSE_STARTS, one more for this many bytes searched: prose with an address a line stays on memchr. */
const BYTES_PER_FALSE_START = 128;

/**
 * Where the next `@sha256:` in `bytes` is, from `from`, or -1. Looking for `@` alone is a memchr, several times
 * faster than searching for the whole mark; a text dense with `@` that is not the mark (a file of addresses or
 * decorators) goes over to the whole mark's search. `end` is where the text ends (the search itself may run on
 * to a sentinel beyond it).
 */
export function indexOfDigestMark(bytes: Buffer, from: number, end: number = bytes.length): number {
  let falseStarts = FALSE_STARTS + Math.floor((end - from) / BYTES_PER_FALSE_START);
  for (let at = bytes.indexOf(AT, from); at >= 0; at = bytes.indexOf(AT, at + 1)) {
    if (
      bytes[at + 1] === 0x73 /* s */ &&
      bytes[at + 2] === 0x68 /* h */ &&
      bytes[at + 3] === 0x61 /* a */ &&
      bytes[at + 4] === 0x32 /* 2 */ &&
      bytes[at + 5] === 0x35 /* 5 */ &&
      bytes[at + 6] === 0x36 /* 6 */ &&
      bytes[at + 7] === 0x3a /* : */
    ) {
      return at;
    }
    if (--falseStarts === 0) return bytes.indexOf(DIGEST_MARK_BYTES, at + 1);
  }
  return -1;
}
const IGNORE_MARK_BYTES = Buffer.from(IGNORE_MARK, "latin1");
const DOCKER_SCHEME_BYTES = Buffer.from(DOCKER_SCHEME, "latin1");
const NEWLINE = 0x0a;
// eslint-disable-next-line no-control-regex
const BEYOND_LATIN1 = /[^\x00-\xff]/;

/**
 * The text as one byte per UTF-16 code unit: itself where it fits in latin1, and 0x80 for anything beyond, which
 * like every such character is a boundary and nothing else, so a match is the same on the bytes as on the text.
 */
function codesOf(text: string): Buffer {
  if (!BEYOND_LATIN1.test(text)) return Buffer.from(text, "latin1");
  const codes = Buffer.allocUnsafe(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    codes[i] = code < 0x100 ? code : 0x80;
  }
  return codes;
}

/** The scan itself, over one byte per character; `slice` gives the text of a range (the reference, a line). */
function scanCodes(path: string, codes: Buffer, first: number, slice: (start: number, end: number) => string): TextScan {
  const pinned: PinnedOccurrence[] = [];
  const skipped: SkippedOccurrence[] = [];
  // Line counting is incremental: only the text up to each hit is walked, once.
  let line = 1;
  let lineStart = 0;
  let counted = 0;

  let ignoredLine = -1;
  let ignoredLineChecked = -1;

  let at = first;
  while (at >= 0) {
    const found = matchAt(codes, at);
    if (found === undefined) {
      at = indexOfDigestMark(codes, at + 1);
      continue;
    }
    const { start, end } = found;
    for (let nl = codes.indexOf(NEWLINE, counted); nl >= 0 && nl < start; nl = codes.indexOf(NEWLINE, nl + 1)) {
      line++;
      lineStart = nl + 1;
    }
    counted = start;
    const text = slice(start, end);
    const reference = tryParseReference(text);
    const column = start - lineStart + 1;
    // The occurrences are written out whole, not spread from a common part: a spread into a literal with more
    // properties made V8 build a new hidden class for every reference.
    if (reference !== undefined) {
      if (ignoredLineChecked !== line) {
        // Only a line holding a pin is searched for the comment: searching the whole file was a quarter of the scan.
        ignoredLineChecked = line;
        let lineEnd = codes.indexOf(NEWLINE, end);
        if (lineEnd < 0) lineEnd = codes.length;
        if (includesBytes(codes, IGNORE_MARK_BYTES, lineStart, lineEnd) && IGNORE_COMMENT.test(slice(lineStart, lineEnd))) ignoredLine = line;
      }
      if (ignoredLine === line) {
        skipped.push({ path, line, column, offset: start, text, reference, reason: IGNORE_COMMENT_REASON });
      } else if (reference.tag !== undefined) {
        pinned.push({ path, line, column, offset: start, text, reference: reference as PinnedReference, digestOffset: at + 1 });
      } else {
        const name = text.slice(0, text.indexOf("@"));
        skipped.push({ path, line, column, offset: start, text, reference, reason: VERSION_LIKE.test(name) ? VERSION_REASON : DIGEST_ONLY_REASON });
      }
    } else {
      const badHost = invalidHost(text);
      if (badHost) skipped.push({ path, line, column, offset: start, text, reason: `${badHost}: not a registry this reference can be followed on` });
    }
    at = indexOfDigestMark(codes, reference !== undefined ? end : at + 1);
  }
  return { pinned, skipped };
}

/** The extent of the candidate whose `@sha256:` is at `at`, or undefined if the text around it cannot be one. */
function matchAt(text: Uint8Array, at: number): { start: number; end: number } | undefined {
  const hexStart = at + DIGEST_MARK.length;
  const end = hexStart + HEX_LENGTH;
  if (end > text.length) return undefined;
  for (let i = hexStart; i < end; i++) if (!has(text, i, Char.Hex)) return undefined;
  if (end < text.length && has(text, end, Char.DigestEnd)) return undefined;

  const limit = Math.max(0, at - MAX_NAME_AND_TAG);
  let start = at;
  while (start > limit && has(text, start - 1, Char.Reference)) start--;
  if (start > 0 && has(text, start - 1, Char.Reference)) return undefined;
  if (start === at) return undefined;

  if (text[start - 1] === 0x5d /* ] */) {
    // A bracketed IPv6 host: `[::1]:5000/name:tag`.
    let open = start - 2;
    while (open >= limit && has(text, open, Char.Ipv6)) open--;
    if (open < limit || text[open] !== 0x5b /* [ */ || open === start - 2) return undefined;
    start = open;
  }

  if (start >= 2 && text[start - 1] === 0x7b /* { */ && text[start - 2] === 0x24 /* $ */) {
    // `${NAME:-ref}` or `${NAME-ref}`: the reference follows the operator.
    let i = start;
    while (i < at && has(text, i, Char.ShellName)) i++;
    if (i === start) return undefined;
    if (text[i] === 0x3a /* : */) i++;
    if (text[i] !== 0x2d /* - */) return undefined;
    return i + 1 < at ? { start: i + 1, end } : undefined;
  }
  if (start > 0 && !has(text, start - 1, Char.Boundary) && !afterShellOperator(text, start)) return undefined;
  if (startsWith(text, DOCKER_SCHEME_BYTES, start)) start += DOCKER_SCHEME.length;
  return { start, end };
}

/**
 * Why a run that failed to parse is reference-shaped but for its registry host (`fake_repo.azurecr.io/x:1@…`);
 * undefined for anything else (a URL, an uppercase path, a bad tag), which is not taken for a reference at all.
 */
function invalidHost(run: string): string | undefined {
  if (run.includes("//")) return undefined;
  let name = run.slice(0, run.indexOf("@"));
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    if (tagProblem(name.slice(colon + 1)) !== undefined) return undefined;
    name = name.slice(0, colon);
  }
  const { domain, path } = splitDomain(name);
  if (domain === undefined || pathProblem(path) !== undefined) return undefined;
  // Host-name characters, `_` among them, starting and ending with a letter or digit: `.` or `..` is a path.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9](?::\d+)?$/.test(domain)) return undefined;
  const problem = domainProblem(domain);
  return problem?.startsWith("invalid registry host") ? problem : undefined;
}

/** Whether `start` follows `${NAME=`, `${NAME:+`, `${NAME?` and the like. */
function afterShellOperator(text: Uint8Array, start: number): boolean {
  const operator = text[start - 1];
  if (operator !== 0x3d /* = */ && operator !== 0x2b /* + */ && operator !== 0x3f /* ? */) return false;
  let i = start - 2;
  if (text[i] === 0x3a /* : */) i--;
  const nameEnd = i;
  while (i >= 0 && has(text, i, Char.ShellName)) i--;
  return i < nameEnd && i >= 1 && text[i] === 0x7b && text[i - 1] === 0x24;
}

/** Whether `needle` occurs in `text[from, to)`: a plain loop, for a stretch as short as a line. */
function includesBytes(text: Uint8Array, needle: Uint8Array, from: number, to: number): boolean {
  const first = needle[0];
  for (let i = from, last = to - needle.length; i <= last; i++) {
    if (text[i] === first && startsWith(text, needle, i)) return true;
  }
  return false;
}

/** Whether `prefix` is at `at` in `text`. */
function startsWith(text: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (at + prefix.length > text.length) return false;
  for (let i = 0; i < prefix.length; i++) if (text[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * A copy of text[start, end) that does not share storage with `text`: a plain slice would keep the whole file
 * alive for as long as the occurrence is held.
 */
function detach(text: string, start: number, end: number): string {
  const codes = new Array<number>(end - start);
  for (let i = start; i < end; i++) codes[i - start] = text.charCodeAt(i);
  return String.fromCharCode(...codes);
}
