import type { RpmDatabaseFormat } from "../parse/rpm-database.js";

/** What a path inside an image filesystem is to the package-database search. */
export type DatabaseFile =
  | { readonly kind: "apk" }
  | { readonly kind: "dpkg-status" }
  /** One distroless `var/lib/dpkg/status.d/<package>` file. */
  | { readonly kind: "dpkg-status-d"; readonly entry: string }
  | { readonly kind: "rpm"; readonly format: RpmDatabaseFormat }
  /** The SQLite write-ahead log beside an rpm database: part of the database when in the same layer. */
  | { readonly kind: "rpm-wal" }
  | { readonly kind: "os-release" };

export const APK_DATABASES = ["lib/apk/db/installed", "usr/lib/apk/db/installed"] as const;
export const DPKG_STATUS = "var/lib/dpkg/status";
export const DPKG_STATUS_D = "var/lib/dpkg/status.d";
/** Where rpm keeps its database, in each format it has used. */
const RPM_DATABASE_FORMATS: Readonly<Record<string, RpmDatabaseFormat>> = {
  "var/lib/rpm/rpmdb.sqlite": "sqlite",
  "usr/lib/sysimage/rpm/rpmdb.sqlite": "sqlite",
  "var/lib/rpm/Packages": "bdb",
  "var/lib/rpm/Packages.db": "ndb",
  "usr/lib/sysimage/rpm/Packages.db": "ndb",
};
export const RPM_DATABASES = Object.keys(RPM_DATABASE_FORMATS);
export const OS_RELEASE = ["etc/os-release", "usr/lib/os-release"] as const;

/** Every path (file or directory) whose presence in a lower layer matters to the search. */
export const SEARCHED_PATHS: readonly string[] = [...APK_DATABASES, DPKG_STATUS, DPKG_STATUS_D, ...RPM_DATABASES, ...OS_RELEASE];

/** One path per database; a file inside status.d stands for the directory's contents. */
const DATABASE_PROBES: readonly string[] = [...APK_DATABASES, DPKG_STATUS, `${DPKG_STATUS_D}/-`, ...RPM_DATABASES];

/** A tar entry name as a relative path: no leading `./` or `/`, no trailing `/`, no `.` segments. */
export function normalizeEntryPath(name: string): string {
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  return segments.join("/");
}

export function classifyPath(path: string): DatabaseFile | undefined {
  if ((APK_DATABASES as readonly string[]).includes(path)) return { kind: "apk" };
  if (path === DPKG_STATUS) return { kind: "dpkg-status" };
  if (path.startsWith(DPKG_STATUS_D + "/")) {
    const entry = path.slice(DPKG_STATUS_D.length + 1);
    // Distroless keeps `<package>` beside `<package>.md5sums`; only the former is a status paragraph.
    if (entry.includes("/") || entry.endsWith(".md5sums")) return undefined;
    return { kind: "dpkg-status-d", entry };
  }
  const format = Object.hasOwn(RPM_DATABASE_FORMATS, path) ? RPM_DATABASE_FORMATS[path] : undefined;
  if (format) return { kind: "rpm", format };
  if (path.endsWith("-wal") && RPM_DATABASE_FORMATS[path.slice(0, -4)] === "sqlite") return { kind: "rpm-wal" };
  if ((OS_RELEASE as readonly string[]).includes(path)) return { kind: "os-release" };
  return undefined;
}

/**
 * An OCI whiteout entry: `.wh.<name>` deletes `<dir>/<name>` (and all under it) from the lower layers,
 * `.wh..wh..opq` hides everything the lower layers hold under `<dir>`.
 */
export type Whiteout = { readonly kind: "delete"; readonly path: string } | { readonly kind: "opaque"; readonly dir: string };

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";

export function parseWhiteout(path: string): Whiteout | undefined {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_MARKER) return { kind: "opaque", dir };
  // Other `.wh..wh.` names are aufs bookkeeping (hard-link directories), not deletions.
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return undefined;
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") return undefined;
  return { kind: "delete", path: dir === "" ? name : `${dir}/${name}` };
}

/** True when `path` is `ancestor` or lies under it; the root ("") is everyone's ancestor. */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === "" || path === ancestor || path.startsWith(ancestor + "/");
}

/** Whether a whiteout can hide anything the search looks at; only those are kept. */
export function whiteoutMatters(whiteout: Whiteout): boolean {
  const target = whiteout.kind === "delete" ? whiteout.path : whiteout.dir;
  // The whiteout hides a searched path or one of its parents, or something under status.d (one package's file).
  return SEARCHED_PATHS.some((p) => isWithin(p, target) || (whiteout.kind === "delete" && isWithin(target, p)));
}

/** Paths the upper layers have deleted or made opaque, as seen from the layer being read. */
export class Deletions {
  private readonly deleted: string[] = [];
  private readonly opaque: string[] = [];

  add(whiteouts: readonly Whiteout[]): void {
    for (const w of whiteouts) {
      if (w.kind === "delete") this.deleted.push(w.path);
      else this.opaque.push(w.dir);
    }
  }

  hides(path: string): boolean {
    return this.deleted.some((d) => isWithin(path, d)) || this.opaque.some((o) => path !== o && isWithin(path, o));
  }

  /** No package database can appear from the lower layers any more. */
  hidesEveryDatabase(): boolean {
    return DATABASE_PROBES.every((p) => this.hides(p));
  }
}
