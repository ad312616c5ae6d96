import type { Digest, ImageName, Platform } from "../reference/types.js";
import type { Vanished } from "../registry/follow-types.js";
import type { PinnedOccurrence, SkippedOccurrence } from "../scan/types.js";

/** The answer for one unique pin (registry/repository:tag@digest), whatever the number of places it stands in. */
export type PinResolution =
  | {
      readonly ok: true;
      readonly current: Digest;
      readonly kind: "index" | "manifest";
      readonly platform?: Platform;
      /** The pinned digest is gone from the registry; `current` is where the tag leads now. */
      readonly vanished?: "digest";
    }
  | {
      readonly ok: false;
      readonly reason: string;
      /** The registry no longer has the pin's digest, tag or both (404): reported as vanished, not failed. */
      readonly vanished?: Vanished;
      /** A pin left alone on purpose (ignored by configuration, cooldown): reported as skipped, not failed. */
      readonly skip?: boolean;
      /** Set when the tag's history begins after the time asked for (`--before`, cooldown). */
      readonly noHistoryBefore?: boolean;
    };

/** One image moving from one digest to another, with every place it is pinned. */
export interface ImageUpdate {
  readonly image: ImageName;
  readonly tag: string;
  readonly from: Digest;
  readonly to: Digest;
  readonly kind: "index" | "manifest";
  readonly platform?: Platform;
  readonly occurrences: readonly PinnedOccurrence[];
}

export interface PinFailure {
  readonly image: ImageName;
  readonly tag: string;
  readonly digest: Digest;
  readonly reason: string;
  readonly occurrences: readonly PinnedOccurrence[];
}

/**
 * A pin naming what the registry no longer has: a deploy from it fails (digest gone) or nothing can move it (tag
 * gone). When the tag still leads somewhere the pin is also an update, to `movedTo`.
 */
export interface VanishedPin {
  readonly image: ImageName;
  readonly tag: string;
  readonly digest: Digest;
  readonly vanished: Vanished;
  readonly reason: string;
  readonly movedTo?: Digest;
  readonly occurrences: readonly PinnedOccurrence[];
}

export interface UpToDatePin {
  readonly image: ImageName;
  readonly tag: string;
  readonly digest: Digest;
  readonly occurrences: readonly PinnedOccurrence[];
}

/** A change of one digest at one place in one file. */
export interface DigestEdit {
  readonly digestOffset: number;
  readonly from: Digest;
  readonly to: Digest;
}

export interface UpdatePlan {
  readonly updates: readonly ImageUpdate[];
  readonly upToDate: readonly UpToDatePin[];
  readonly failed: readonly PinFailure[];
  /** Pins whose digest or tag is gone, moved (also in `updates`) or not. */
  readonly vanished: readonly VanishedPin[];
  readonly skipped: readonly SkippedOccurrence[];
  /** Edits per file path, sorted by offset. */
  readonly edits: ReadonlyMap<string, readonly DigestEdit[]>;
}
