// File names are bytes: a filesystem holds any name without `/` and NUL, UTF-8 or not. digesta carries a path as
// a string in which each byte that is not part of valid UTF-8 stands as the lone surrogate U+DC80 + byte, the
// convention of Python's `surrogateescape` (PEP 383). Valid UTF-8 never decodes to a lone surrogate, so the
// mapping is one to one: `pathBytes` gives back exactly the bytes the directory held, and JSON.stringify writes
// such a byte as `\udcXX`, which any JSON reader turns back into the same string.
import { isUtf8 } from "node:buffer";

// eslint-disable-next-line no-control-regex
const ESCAPED_BYTE = /[\udc80-\udcff]/u;
// eslint-disable-next-line no-control-regex
const SHOWN_ESCAPED = /[\udc80-\udcff]|[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** A name read from a directory as bytes, as a string (see above). */
export function decodeName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  let text = "";
  let at = 0;
  while (at < bytes.length) {
    const length = utf8SequenceLength(bytes, at);
    if (length === 0) {
      text += String.fromCharCode(0xdc00 + bytes[at]!);
      at += 1;
    } else {
      text += bytes.toString("utf8", at, at + length);
      at += length;
    }
  }
  return text;
}

/** The bytes of a path string made by `decodeName` (joined with `/`), for the filesystem. */
export function pathBytes(path: string): Buffer {
  if (!ESCAPED_BYTE.test(path)) return Buffer.from(path, "utf8");
  const parts: Buffer[] = [];
  for (const char of path) {
    const code = char.codePointAt(0)!;
    parts.push(code >= 0xdc80 && code <= 0xdcff ? Buffer.of(code - 0xdc00) : Buffer.from(char, "utf8"));
  }
  return Buffer.concat(parts);
}

/** `root/relative` as bytes: `relative` is a `/`-separated path made by `decodeName`. */
export function joinPathBytes(root: string | Buffer, relative: string): Buffer {
  const head = typeof root === "string" ? Buffer.from(root, "utf8") : root;
  return Buffer.concat([head, Buffer.from("/"), pathBytes(relative)]);
}

/**
 * `root/relative` as the filesystem calls take it: the string itself when `relative` is all UTF-8 (the common
 * case, and cheaper than building bytes), its bytes otherwise.
 */
export function joinPath(root: string, relative: string): string | Buffer {
  return ESCAPED_BYTE.test(relative) ? joinPathBytes(root, relative) : `${root}/${relative}`;
}

/**
 * A path as a person should see it in text output: each byte that is not UTF-8, and each control or invisible
 * character, is shown as `\xHH` (or `\u{…}`), so that a name cannot hide itself, break a line, or pass for another.
 */
export function displayPath(path: string): string {
  return path.replace(SHOWN_ESCAPED, (char) => {
    const code = char.codePointAt(0)!;
    if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - 0xdc00).toString(16).padStart(2, "0")}`;
    if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
    return `\\u{${code.toString(16)}}`;
  });
}

/** The length of the valid UTF-8 sequence starting at `at`, or 0 when the byte there does not start one. */
function utf8SequenceLength(bytes: Buffer, at: number): number {
  const first = bytes[at]!;
  if (first < 0x80) return 1;
  let length: number;
  let max = 0xbf;
  if (first >= 0xc2 && first <= 0xdf) length = 2;
  else if (first >= 0xe0 && first <= 0xef) length = 3;
  else if (first >= 0xf0 && first <= 0xf4) length = 4;
  else return 0;
  // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
  const min = first === 0xe0 ? 0xa0 : first === 0xf0 ? 0x90 : 0x80;
  if (first === 0xed) max = 0x9f;
  else if (first === 0xf4) max = 0x8f;
  if (at + length > bytes.length) return 0;
  const second = bytes[at + 1]!;
  if (second < min || second > max) return 0;
  for (let i = 2; i < length; i++) {
    const next = bytes[at + i]!;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}
