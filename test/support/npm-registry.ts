// A loopback npm registry for the install test: it serves the production packages of package-lock.json (never the
// dev ones), each at the version and with the integrity the lockfile pins, from the bytes `npm ci` left in the npm
// cache. `npm install -g` pointed at it installs as it would from the public registry, with no network at all, and
// fails if the package needs anything outside its production dependencies.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

interface LockEntry {
  readonly name?: string;
  readonly version: string;
  readonly integrity?: string;
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, unknown>;
  readonly bin?: Record<string, string>;
  readonly engines?: Record<string, string>;
  readonly os?: string[];
  readonly cpu?: string[];
}

export interface NpmRegistry {
  readonly url: string;
  /** Package names asked for, in order (metadata requests). */
  readonly requested: string[];
  stop(): Promise<void>;
}

/** Where cacache keeps a blob of this integrity (`sha512-BASE64`). */
function cachePath(cache: string, integrity: string): string {
  const [algorithm, base64] = integrity.split("-", 2) as [string, string];
  const hex = Buffer.from(base64, "base64").toString("hex");
  return join(cache, "_cacache", "content-v2", algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

export async function startNpmRegistry(lockfilePath: string): Promise<NpmRegistry> {
  const lock = JSON.parse(await readFile(lockfilePath, "utf8")) as { packages: Record<string, LockEntry> };
  const cache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
  const versions = new Map<string, Map<string, LockEntry>>();
  const tarballs = new Map<string, string>();
  const missing: string[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    if (location === "" || entry.dev || entry.link || !entry.integrity) continue;
    const name = entry.name ?? location.slice(location.lastIndexOf("node_modules/") + "node_modules/".length);
    const file = cachePath(cache, entry.integrity);
    // Optional packages for other platforms (os/cpu) were never downloaded: npm needs only their metadata to skip them.
    if (existsSync(file)) tarballs.set(`${name}@${entry.version}`, file);
    else if (!entry.optional) missing.push(`${name}@${entry.version}`);
    if (!versions.has(name)) versions.set(name, new Map());
    versions.get(name)!.set(entry.version, entry);
  }
  if (missing.length > 0) throw new Error(`not in the npm cache (${cache}): ${missing.join(", ")}; run npm ci first`);

  const requested: string[] = [];
  let base = "";
  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = decodeURIComponent(new URL(request.url ?? "/", "http://npm.invalid").pathname).replace(/^\//, "");
      const tarball = /^-\/tarball\/(.+)$/.exec(path);
      if (tarball) {
        const file = tarballs.get(tarball[1]!);
        if (!file) return response.writeHead(404).end();
        return response.writeHead(200, { "content-type": "application/octet-stream" }).end(await readFile(file));
      }
      requested.push(path);
      const known = versions.get(path);
      if (!known) return response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
      const packument = {
        name: path,
        "dist-tags": { latest: [...known.keys()].at(-1) },
        versions: Object.fromEntries(
          [...known].map(([version, entry]) => [
            version,
            {
              name: path,
              version,
              ...pick(entry, ["dependencies", "optionalDependencies", "peerDependencies", "peerDependenciesMeta", "bin", "engines", "os", "cpu"]),
              dist: { tarball: `${base}/-/tarball/${encodeURIComponent(`${path}@${version}`)}`, integrity: entry.integrity },
            },
          ]),
        ),
      };
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument));
    })().catch(() => response.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    requested,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((key) => value[key] !== undefined).map((key) => [key, value[key]])) as Partial<Pick<T, K>>;
}
