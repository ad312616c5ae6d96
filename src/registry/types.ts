import type { Readable } from "node:stream";
import type { Digest, ImageName, Platform } from "../reference/types.js";

export const MediaType = {
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  InToto: "application/vnd.in-toto+json",
  DsseEnvelope: "application/vnd.dsse.envelope.v1+json",
  SigstoreBundle: "application/vnd.dev.sigstore.bundle.v0.3+json",
} as const;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
}

/** A manifest or index fetched from a registry, its bytes verified against its digest. */
export interface FetchedManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  /** The parsed JSON body (validated only as "an object"; callers narrow it). */
  readonly json: Record<string, unknown>;
}

export interface BlobStream {
  readonly stream: Readable;
  /** Declared length, where the registry sent one. */
  readonly size?: number;
  /** Stops the download: no further bytes are transferred. */
  abort(): void;
}

export interface TagHistoryEntry {
  readonly updateTimestamp: Date;
  readonly digest: Digest;
}

/** The operations digesta needs from a registry; the HTTP client implements them, tests may fake them. */
export interface Registry {
  /** Digest and media type of what `reference` (a tag or a digest) points to now; HEAD, falling back to GET. */
  headManifest(name: ImageName, reference: string): Promise<Descriptor>;
  /** The manifest or index body; when `reference` is a digest the body is verified against it. */
  getManifest(name: ImageName, reference: string): Promise<FetchedManifest>;
  /** A whole blob, verified against its digest. For small blobs (configs, SBOMs): refuses bodies over `maxBytes`. */
  getBlob(name: ImageName, digest: Digest, maxBytes?: number): Promise<Uint8Array>;
  /** A blob as a stream, for layers. */
  openBlob(name: ImageName, digest: Digest): Promise<BlobStream>;
  /** OCI 1.1 referrers of a digest, falling back to the `sha256-<hex>` referrers tag schema. */
  referrers(name: ImageName, digest: Digest, artifactType?: string): Promise<Descriptor[]>;
  /** Chainguard's tag history; throws RegistryError with code NO_TAG_HISTORY where the registry keeps none. */
  tagHistory(name: ImageName, tag: string): Promise<TagHistoryEntry[]>;
}
