import type { ImageReference, PinnedReference } from "../reference/types.js";

/** One place in one file where a reference was found. */
export interface Occurrence {
  /**
   * Path relative to the scanned root, `/`-separated; a byte of a name that is not UTF-8 stands as a lone
   * surrogate (see `names.ts`): `pathBytes` gives the name back, `displayPath` shows it.
   */
  readonly path: string;
  /** 1-based line and column of the first character of the reference. */
  readonly line: number;
  readonly column: number;
  /** Offset of the first character of the reference in the file (files are read as latin1, so this is a byte offset). */
  readonly offset: number;
  /** The exact text matched, without any `docker://` prefix. */
  readonly text: string;
  readonly reference: ImageReference;
}

/** A reference with a tag to follow and a digest to move. */
export interface PinnedOccurrence extends Occurrence {
  readonly reference: PinnedReference;
  /** Byte offset of the `sha256:` of the digest in the file: the only characters a rewrite touches. */
  readonly digestOffset: number;
}

/**
 * A reference found but not followed, with why (digest-only: no tag to follow; a `digesta:ignore` comment; a
 * registry host that is not a host name, in which case there is no parsed `reference`).
 */
export interface SkippedOccurrence extends Omit<Occurrence, "reference"> {
  readonly reference?: ImageReference;
  readonly reason: string;
}

export interface TextScan {
  readonly pinned: PinnedOccurrence[];
  readonly skipped: SkippedOccurrence[];
}

export interface ScanOptions {
  /**
   * Globs relative to the root, read as .gitignore reads them: without a `/`, at any depth (`*.yaml`); with one,
   * from the root (`deploy/*.yaml`). Default: everything.
   */
  readonly include?: readonly string[];
  /** Globs as for `include`, added to the default excludes (.git, node_modules); a matching directory is not entered. */
  readonly exclude?: readonly string[];
  /** Files larger than this many bytes are skipped (reported in `skippedFiles`). */
  readonly maxFileSize?: number;
  /**
   * Threads reading files, this one included (default 1). Beyond one, worker threads start once the walk has found
   * a thousand files, so a small tree never waits for them; the results are the same either way.
   */
  readonly threads?: number;
  /** Told the files read so far every few milliseconds of reading, for a progress display. */
  readonly onProgress?: (filesRead: number, bytesRead: number) => void;
  /**
   * Shown every text file scanned, with or without pins: how other finders (unpinned references) share the one
   * walk and read. The bytes are a view of a reused buffer, valid only during the call.
   */
  readonly onTextFile?: (path: string, bytes: Buffer) => void;
}

/**
 * Why a file was not scanned. `unreadable` (a file or folder), `too-large`, `too-many-references` and `encoding`
 * (UTF-16 text holding `@sha256:`) are files that could hold a pin nobody read; binary files, symbolic links (never
 * followed) and special files cannot.
 */
export type NotScannedKind = "unreadable" | "too-large" | "too-many-references" | "encoding" | "binary" | "symlink" | "special";

export interface NotScannedFile {
  /** Relative path, as in `Occurrence.path`; `.` for the root folder itself. */
  readonly path: string;
  readonly kind: NotScannedKind;
  /** The reason in words, for people. */
  readonly reason: string;
}

export interface ScanReport extends TextScan {
  readonly filesScanned: number;
  readonly bytesScanned: number;
  /** Files and folders not scanned, with why: unreadable, too large, binary, links and special files. */
  readonly skippedFiles: NotScannedFile[];
  /**
   * The SHA-256 (hex) of the whole content of each file holding a pin, as scanned: a file is rewritten only while
   * its bytes are still exactly these.
   */
  readonly fingerprints: ReadonlyMap<string, string>;
  /** `include` patterns that matched no file: a mistyped or too narrow pattern, which would otherwise pass for "nothing pinned". */
  readonly unmatchedIncludes: readonly string[];
}
