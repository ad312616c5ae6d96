import { isDigest } from "../reference/digest.js";
import { imageKey } from "../reference/format.js";
import type { Digest, ImageName } from "../reference/types.js";
import { RegistryError } from "./errors.js";
import { assertManifestShape, isIndexMediaType } from "./manifest.js";
import type { Descriptor, FetchedManifest, Registry } from "./types.js";

export interface ConfirmOptions {
  /**
   * Something later in the run reads this manifest anyway (a package diff): confirm with that GET, kept for it, instead
   * of a HEAD and then a GET.
   */
  readonly read?: boolean;
}

/**
 * A registry that reads each manifest at most once per run, whoever asks (the pin follower, the confirmation before a
 * write, the package diff and its SBOM and scan lookups, the cooldown): manifests are kept by digest, a tag's also
 * under the digest it turned out to have; what a tag and a digest's referrers are is asked once per run, as the
 * follower asks each tag once. Blobs go straight through (the package cache keeps what it reads of them).
 */
export interface ManifestMemo extends Registry {
  /**
   * Resolves when the registry holds `digest` as a manifest of `kind`, and throws RegistryError otherwise (NOT_FOUND
   * when it does not have it). Free when this run already read it; else a GET when `read`, else a HEAD (which does not
   * count against Docker Hub's pull limit), whose Docker-Content-Digest the client checks against the digest asked.
   */
  confirm(name: ImageName, digest: Digest, kind: "index" | "manifest", options?: ConfirmOptions): Promise<void>;
}

/**
 * The answer kept for `key`, or `load`'s, shared by concurrent askers. A failure other than NOT_FOUND is forgotten
 * once it settles, so a later asker (another repository of a sweep) tries again.
 */
function once<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let found = cache.get(key);
  if (!found) {
    found = load();
    cache.set(key, found);
    found.catch((error: unknown) => {
      if (!(error instanceof RegistryError && error.code === "NOT_FOUND")) cache.delete(key);
    });
  }
  return found;
}

/** Wraps `registry` in a per-run manifest memo; a memo given is returned as it is, so one run shares one. */
export function memoizeManifests(registry: Registry | ManifestMemo): ManifestMemo {
  if (isManifestMemo(registry)) return registry;
  const reads = new Map<string, Promise<FetchedManifest>>();
  const heads = new Map<string, Promise<Descriptor>>();
  const confirmed = new Map<string, Promise<void>>();
  const tags = new Map<string, Promise<FetchedManifest>>();
  const referrers = new Map<string, Promise<Descriptor[]>>();

  const read = (name: ImageName, digest: string): Promise<FetchedManifest> =>
    once(reads, `${imageKey(name)}@${digest}`, () => registry.getManifest(name, digest));

  const getManifest = async (name: ImageName, reference: string): Promise<FetchedManifest> => {
    if (isDigest(reference)) return read(name, reference);
    const fetched = await once(tags, `${imageKey(name)}:${reference}`, () => registry.getManifest(name, reference));
    const key = `${imageKey(name)}@${fetched.digest}`;
    if (!reads.has(key)) reads.set(key, Promise.resolve(fetched));
    return fetched;
  };

  const headManifest = async (name: ImageName, reference: string): Promise<Descriptor> => {
    if (!isDigest(reference)) return registry.headManifest(name, reference);
    const key = `${imageKey(name)}@${reference}`;
    const fetched = reads.get(key);
    if (fetched) {
      const { mediaType, digest, bytes } = await fetched;
      return { mediaType, digest, size: bytes.byteLength };
    }
    return once(heads, key, () => registry.headManifest(name, reference));
  };

  const confirm = (name: ImageName, digest: Digest, kind: "index" | "manifest", options: ConfirmOptions = {}): Promise<void> => {
    const what = `${imageKey(name)}@${digest}`;
    return once(confirmed, `${what}/${kind}`, async () => {
      if (options.read || reads.has(what)) {
        const fetched = await read(name, digest);
        assertManifestShape(fetched, what);
        assertKind(fetched.mediaType, kind, what);
      } else {
        assertKind((await headManifest(name, digest)).mediaType, kind, what);
      }
    });
  };

  return {
    getManifest,
    headManifest,
    getBlob: (name, digest, maxBytes) => registry.getBlob(name, digest, maxBytes),
    openBlob: (name, digest) => registry.openBlob(name, digest),
    // Every referrer once per digest, whatever type each asker filters for.
    referrers: async (name, digest, artifactType) => {
      const all = await once(referrers, `${imageKey(name)}@${digest}`, () => registry.referrers(name, digest));
      return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
    },
    tagHistory: (name, tag) => registry.tagHistory(name, tag),
    confirm,
  };
}

function isManifestMemo(registry: Registry | ManifestMemo): registry is ManifestMemo {
  return typeof (registry as Partial<ManifestMemo>).confirm === "function";
}

/** A pin of an index moves to an index, a platform pin to an image manifest: anything else cannot be pulled as pinned. */
function assertKind(mediaType: string, kind: "index" | "manifest", what: string): void {
  if (isIndexMediaType(mediaType) === (kind === "index")) return;
  throw new RegistryError(
    "BAD_RESPONSE",
    `${what}: the registry has it as ${mediaType}, not as ${kind === "index" ? "an image index" : "an image manifest"}; refusing its digest`,
  );
}
