// apk-tools 2.x's version order (src/version.c of the 2.14 branch: what Alpine releases and Wolfi's own
// `apk-tools` package ship). Kept as the C reads it, token state machine and all, because its quirks are what
// those images' apk does: zeros leading a number after a dot are a token of their own (`2.036 > 2.04`, `1.0 > 1.00`),
// and a digit after a letter starts a new number (`0.99f7 < 0.99f8`).

const INVALID = -1;
const DIGIT_OR_ZERO = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;

const PRE_SUFFIXES = ["alpha", "beta", "pre", "rc"] as const;
const POST_SUFFIXES = ["cvs", "svn", "git", "hg", "p"] as const;

/** A token's value: numbers as apk's int64 (bigint, so that no length of digits overflows), a commit hash as text. */
type Value = bigint | string;

/** apk_blob_t: the rest of the version still to read, and the kind of token that comes next. */
class Cursor {
  pos = 0;
  type = DIGIT;
  constructor(readonly s: string) {}

  get len(): number {
    return this.s.length - this.pos;
  }

  code(i = 0): number {
    return this.s.charCodeAt(this.pos + i);
  }
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
/** apk-tools' hex class is lower-case only. */
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66);

/** next_token(): what kind of token follows, consuming its separator (`.`, `_`, `~`, `-r`). */
function nextToken(b: Cursor): void {
  let n = INVALID;
  if (b.len === 0 || b.code() === 0) {
    n = END;
  } else if ((b.type === DIGIT || b.type === DIGIT_OR_ZERO) && isLower(b.code())) {
    n = LETTER;
  } else if (b.type === LETTER && isDigit(b.code())) {
    n = DIGIT;
  } else if (b.type === SUFFIX && isDigit(b.code())) {
    n = SUFFIX_NO;
  } else {
    switch (b.code()) {
      case 0x2e /* . */:
        n = DIGIT_OR_ZERO;
        break;
      case 0x5f /* _ */:
        n = SUFFIX;
        break;
      case 0x7e /* ~ */:
        n = COMMIT_HASH;
        break;
      case 0x2d /* - */:
        if (b.len > 1 && b.code(1) === 0x72 /* r */) {
          n = REVISION_NO;
          b.pos++;
        }
        break;
    }
    b.pos++;
  }
  if (n < b.type) {
    const allowed = (n === DIGIT_OR_ZERO && b.type === DIGIT) || (n === SUFFIX && b.type === SUFFIX_NO) || (n === DIGIT && b.type === LETTER);
    if (!allowed) n = INVALID;
  }
  b.type = n;
}

function suffixAt(b: Cursor, words: readonly string[]): number {
  for (let v = 0; v < words.length; v++) {
    const word = words[v]!;
    if (word.length <= b.len && b.s.startsWith(word, b.pos)) return v;
  }
  return -1;
}

/** get_token(): the value of the token at the cursor (of kind `b.type`), moving past it. */
function getToken(b: Cursor): Value {
  if (b.len <= 0) {
    b.type = END;
    return 0n;
  }
  let i = 0;
  let nt = INVALID;
  let v: Value = 0n;
  switch (b.type) {
    case DIGIT_OR_ZERO:
    case DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      if (b.type === DIGIT_OR_ZERO && b.code() === 0x30) {
        // Leading zeros after a dot: all but the last are a token worth minus their count, then the number (last
        // zero included) is the next token: `.036` is (0, 36), `.0036` is (-1, 36).
        while (i + 1 < b.len && b.code(i + 1) === 0x30) i++;
        nt = DIGIT;
        v = BigInt(-i);
        break;
      }
      while (i < b.len && isDigit(b.code(i))) i++;
      v = i > 0 ? BigInt(b.s.slice(b.pos, b.pos + i)) : 0n;
      break;
    case LETTER:
      v = BigInt(b.code());
      i = 1;
      break;
    case SUFFIX: {
      const pre = suffixAt(b, PRE_SUFFIXES);
      if (pre >= 0) {
        i = PRE_SUFFIXES[pre]!.length;
        v = BigInt(pre - PRE_SUFFIXES.length);
        break;
      }
      const post = suffixAt(b, POST_SUFFIXES);
      if (post >= 0) {
        i = POST_SUFFIXES[post]!.length;
        v = BigInt(post);
        break;
      }
      b.type = INVALID;
      return -1n;
    }
    case COMMIT_HASH:
      while (i < b.len && isHex(b.code(i))) i++;
      if (i === 0) {
        b.type = INVALID;
        return -1n;
      }
      v = b.s.slice(b.pos, b.pos + i);
      break;
    default:
      b.type = INVALID;
      return -1n;
  }
  b.pos += i;
  if (b.len === 0) b.type = END;
  else if (nt !== INVALID) b.type = nt;
  else nextToken(b);
  return v;
}

/** Values of one token kind are of one type; a hash that failed to parse (-1) is below any hash. */
const less = (x: Value, y: Value): boolean => (typeof x === typeof y ? x < y : typeof x === "bigint");

/**
 * Orders two Alpine/Wolfi package versions the way apk-tools 2.x does (apk_version_compare_blob):
 * `1.0_rc1 < 1.0 < 1.0_p1`, `1.0-r1 < 1.0-r2`, `1.0 < 1.0a`, `2.036 > 2.04`, `0.99f7 < 0.99f8`.
 * Invalid versions compare as far as they parse, like apk-tools.
 */
export function compareApk2Versions(a: string, b: string): -1 | 0 | 1 {
  const x = new Cursor(a);
  const y = new Cursor(b);
  let av: Value = 0n;
  let bv: Value = 0n;
  while (x.type === y.type && x.type !== END && x.type !== INVALID && av === bv) {
    av = getToken(x);
    bv = getToken(y);
  }
  if (less(av, bv)) return -1;
  if (less(bv, av)) return 1;
  if (x.type === y.type) return 0;
  // Equal so far: the longer version is higher, unless what it goes on with is a pre-release suffix.
  const [at, bt] = [x.type, y.type];
  if (at === SUFFIX && less(getToken(x), 0n)) return -1;
  if (bt === SUFFIX && less(getToken(y), 0n)) return 1;
  if (at > bt) return -1;
  if (bt > at) return 1;
  return 0;
}

/** Whether apk-tools 2.x would accept `v` as a version (apk_version_validate). */
export function isValidApk2Version(v: string): boolean {
  const b = new Cursor(v);
  while (b.type !== END && b.type !== INVALID) getToken(b);
  return b.type === END;
}
