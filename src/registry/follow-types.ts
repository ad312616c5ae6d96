import type { Digest, Platform } from "../reference/types.js";

/** What a pinned `image:tag@digest` should point to now. */
export interface FollowedPin {
  /** The digest the pin should carry now (equal to the pinned one when it is up to date). */
  readonly current: Digest;
  /** `index` when the pin names a multi-platform index; `manifest` when it names one image manifest. */
  readonly kind: "index" | "manifest";
  /** For a platform pin: the platform followed. */
  readonly platform?: Platform;
  /** What the tag itself points to now (an index digest for multi-platform tags). */
  readonly tagDigest: Digest;
  /** The pinned digest is gone from the registry (the tag, a single manifest, was followed all the same). */
  readonly vanished?: "digest";
}

/** What of a pin the registry no longer has: its digest, its tag, or both. */
export type Vanished = "digest" | "tag" | "tag-and-digest";
