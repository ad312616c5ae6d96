import type { ImageReference } from "../reference/types.js";

/** The syntax that makes a piece of text certainly an image reference. */
export type PinSyntax =
  | "dockerfile-from"
  | "dockerfile-copy-from"
  | "dockerfile-mount-from"
  | "dockerfile-arg"
  | "dockerfile-syntax"
  | "yaml-image"
  | "workflow-container"
  | "workflow-docker-uses"
  | "cloudbuild-step"
  | "json-image"
  | "hcl-image"
  | "shell-flag";

/** A tagged reference written without a digest: a place to append `@sha256:…`. */
export interface UnpinnedOccurrence {
  /** Path relative to the scanned root, `/`-separated. */
  readonly path: string;
  /** 1-based line and column of the first character of the reference. */
  readonly line: number;
  readonly column: number;
  /** Byte offset of the reference's first character (files are read as latin1). */
  readonly offset: number;
  /** The reference exactly as written (without any `docker://`). */
  readonly text: string;
  readonly reference: ImageReference & { readonly tag: string };
  readonly syntax: PinSyntax;
}

/** A place where an image is named but cannot be pinned as written, with why. */
export interface UnpinnableOccurrence {
  readonly path: string;
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  readonly text: string;
  readonly syntax: PinSyntax;
  readonly reason: string;
}

export interface UnpinnedScan {
  readonly unpinned: UnpinnedOccurrence[];
  readonly unpinnable: UnpinnableOccurrence[];
}
