import type { ImageDiff } from "./types.js";

export interface RenderOptions {
  /** Maximum length of the result, in characters; default 60 000 (GitHub bodies stop at 65 536). */
  readonly budget?: number;
  /** A line put above the image sections, e.g. "### Package changes". */
  readonly heading?: string;
}

/** Markdown for pull-request bodies and comments: one collapsible section per image, always within the budget. */
export function renderImageDiffs(diffs: readonly ImageDiff[], options: RenderOptions = {}): string {
  void diffs;
  void options;
  throw new Error("renderImageDiffs: not implemented yet");
}

/** Plain text for the CLI: one block per image with aligned columns. */
export function renderImageDiffText(diff: ImageDiff): string {
  void diff;
  throw new Error("renderImageDiffText: not implemented yet");
}
