import { compareApk2Versions, isValidApk2Version } from "./apk2.js";
import { compareDigitRuns, compareStrings } from "./digits.js";

// apk-tools' version grammar: digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}
// Token kinds in the order apk-tools numbers them: a version that runs out of tokens earlier, or
// whose next token kind is higher, is the lower version (apart from pre-release suffixes).
const INITIAL_DIGIT = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;
const INVALID = 8;

// Suffix ranks: pre-release suffixes below NONE, post-release above.
const SUFFIX_NONE = 5;
const SUFFIXES: Readonly<Record<string, number>> = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
};

interface TokenState {
  token: number;
  /** The token's text: digits, the letter, the suffix word, the hash. */
  value: string;
  suffix: number;
}

class Tokenizer {
  private pos = 0;
  readonly state: TokenState = { token: INITIAL_DIGIT, value: "", suffix: 0 };

  constructor(private readonly s: string) {
    this.digits();
  }

  private digits(): void {
    const start = this.pos;
    while (this.pos < this.s.length && isDigit(this.s.charCodeAt(this.pos))) this.pos++;
    this.state.value = this.s.slice(start, this.pos);
    if (this.state.value.length === 0) this.state.token = INVALID;
  }

  private span(accept: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.s.length && accept(this.s.charCodeAt(this.pos))) this.pos++;
    return this.s.slice(start, this.pos);
  }

  next(): void {
    const t = this.state;
    if (this.pos >= this.s.length) {
      t.token = END;
      return;
    }
    const c = this.s.charCodeAt(this.pos);
    if (isLower(c)) {
      if (t.token > DIGIT) return this.invalid();
      t.value = this.s[this.pos] ?? "";
      t.token = LETTER;
      this.pos++;
      return;
    }
    if (c === 0x2e /* . */ || isDigit(c)) {
      if (c === 0x2e) {
        if (t.token > DIGIT) return this.invalid();
        this.pos++;
      }
      if (t.token === INITIAL_DIGIT || t.token === DIGIT) t.token = DIGIT;
      else if (t.token === SUFFIX) t.token = SUFFIX_NO;
      else return this.invalid();
      this.digits();
      return;
    }
    if (c === 0x5f /* _ */) {
      if (t.token > SUFFIX_NO) return this.invalid();
      this.pos++;
      t.value = this.span(isLower);
      const suffix = SUFFIXES[t.value];
      if (suffix === undefined || !Object.hasOwn(SUFFIXES, t.value)) return this.invalid();
      t.suffix = suffix;
      t.token = SUFFIX;
      return;
    }
    if (c === 0x7e /* ~ */) {
      if (t.token >= COMMIT_HASH) return this.invalid();
      this.pos++;
      t.value = this.span(isHexDigit);
      if (t.value.length === 0) return this.invalid();
      t.token = COMMIT_HASH;
      return;
    }
    if (c === 0x2d /* - */) {
      if (t.token >= REVISION_NO || this.s.charCodeAt(this.pos + 1) !== 0x72 /* r */) return this.invalid();
      this.pos += 2;
      t.token = REVISION_NO;
      this.digits();
      return;
    }
    this.invalid();
  }

  private invalid(): void {
    this.state.token = INVALID;
  }
}

function compareTokens(a: TokenState, b: TokenState): -1 | 0 | 1 {
  switch (a.token) {
    case DIGIT:
      // A leading zero makes apk compare the digits as text (Gentoo's rule): 1.05 < 1.5.
      if (a.value.startsWith("0") || b.value.startsWith("0")) return compareStrings(a.value, b.value);
      return compareDigitRuns(a.value, b.value);
    case INITIAL_DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      return compareDigitRuns(a.value, b.value);
    case SUFFIX:
      return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
    default:
      return compareStrings(a.value, b.value);
  }
}

/**
 * Orders two Alpine/Wolfi package versions the way apk-tools 3 does (apk_version_compare):
 * `1.0_rc1 < 1.0 < 1.0_p1`, `1.0-r1 < 1.0-r2`, `1.0 < 1.0a`, `1.05 < 1.5` and `2.036 < 2.04` (a leading zero
 * makes the digits compare as text). A digit after a letter (`0.99f7`) ends the version there, as invalid.
 * Invalid versions compare as far as they parse, like apk-tools.
 */
export function compareApk3Versions(a: string, b: string): -1 | 0 | 1 {
  const ta = new Tokenizer(a);
  const tb = new Tokenizer(b);
  const sa = ta.state;
  const sb = tb.state;
  while (sa.token === sb.token && sa.token < END) {
    const r = compareTokens(sa, sb);
    if (r !== 0) return r;
    ta.next();
    tb.next();
  }
  if (sa.token === sb.token) return 0;
  // Equal so far: the longer version is higher, unless what it goes on with is a pre-release suffix.
  if (sa.token === SUFFIX && sa.suffix < SUFFIX_NONE) return -1;
  if (sb.token === SUFFIX && sb.suffix < SUFFIX_NONE) return 1;
  return sa.token > sb.token ? -1 : 1;
}

/** Whether apk-tools 3 would accept `v` as a version. */
export function isValidApk3Version(v: string): boolean {
  const t = new Tokenizer(v);
  while (t.state.token < END) t.next();
  return t.state.token === END;
}

/** Splits `1.2.3-r4` into upstream `1.2.3` and revision `4` (undefined when there is no `-rN`). */
export function splitApkRevision(v: string): { upstream: string; revision?: string } {
  const m = /^(.*)-r(\d+)$/s.exec(v);
  return m ? { upstream: m[1] ?? "", revision: m[2] ?? "" } : { upstream: v };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isLower(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}
/** apk-tools' own hex class (apk_ctype): lower-case only, unlike C's isxdigit. */
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66);
}

/** The apk-tools release series whose version order applies: 2 (Alpine, Wolfi) unless the image runs apk-tools 3. */
export type ApkToolsSeries = 2 | 3;

/** Orders two apk versions as the image's own apk-tools does: 2.x by default, 3.x when the image has apk-tools 3. */
export function compareApkVersions(a: string, b: string, series: ApkToolsSeries = 2): -1 | 0 | 1 {
  return series === 3 ? compareApk3Versions(a, b) : compareApk2Versions(a, b);
}

/** Whether the image's apk-tools would accept `v` as a version. */
export function isValidApkVersion(v: string, series: ApkToolsSeries = 2): boolean {
  return series === 3 ? isValidApk3Version(v) : isValidApk2Version(v);
}

/** The series of an installed `apk-tools` version (`2.14.4-r1` → 2, `3.0.6-r0` → 3); 2 when unknown. */
export function apkToolsSeries(version: string | undefined): ApkToolsSeries {
  return version !== undefined && /^3\./.test(version) ? 3 : 2;
}
