/** A content digest, always `sha256:` followed by 64 lowercase hex digits. */
export type Digest = string & { readonly __brand: "Digest" };

/** A repository on a registry, normalised the way Docker does (`nginx` → docker.io / library/nginx). */
export interface ImageName {
  /** Registry host as written after normalisation, with port: `docker.io`, `cgr.dev`, `localhost:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** Repository path on that registry: `library/nginx`, `chainguard/static`. */
  readonly repository: string;
}

export interface ImageReference extends ImageName {
  readonly tag?: string;
  readonly digest?: Digest;
}

/** A reference that names both a tag to follow and the digest it is pinned to. */
export interface PinnedReference extends ImageName {
  readonly tag: string;
  readonly digest: Digest;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}
