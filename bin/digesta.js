#!/usr/bin/env node
// The command line: loads the bundle (dist/bundle/digesta.cjs) from the code V8 compiled for it in an earlier run of
// the same command. CommonJS (bin/package.json says so), loaded through require() without the ES module loader, and
// one file, so that nothing is resolved or compiled before the cache is in place.
//
// Compiling the bundle's half a megabyte was a fifth of a `digesta resolve` on Node 20. Node 22.1 and later keep
// compiled code themselves (module.enableCompileCache); on Node 20 the bundle is compiled here with vm.Script and
// the code V8 produced by the end of the run is saved beside the others, one file per command, so that a `resolve`
// starts from the functions a `resolve` needs.
//
// The cache is code this process will run, so it is kept only where no one else can write: a directory of the user's
// own (XDG_CACHE_HOME or ~/.cache, then digesta/), owned by this user and writable by no one else, checked before
// every read. A cache file is used only for the bundle it was made from (size, inode and change time, which no one
// can set back) and the Node it was made by (the directory's name). Anything amiss, or DIGESTA_CODE_CACHE=off, and
// the bundle is required as usual; nothing here ever stops a run.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const Module = require("node:module");

/** The user's own cache directory for this Node, or undefined when there is none that only this user can write. */
function cacheDirectory(env) {
  if (env.DIGESTA_CODE_CACHE === "off" || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, ".cache") : undefined;
  if (!base || typeof process.getuid !== "function") return undefined;
  const digesta = path.join(base, "digesta");
  const dir = path.join(digesta, `code-${process.version}-${process.arch}`);
  try {
    // The usual case: two lstat calls.
    if (ownedByUser(dir) && ownedByUser(digesta)) return dir;
  } catch {
    // Not made yet.
  }
  try {
    // Nothing is made in a directory of someone else's (HOME kept by sudo, say).
    // The base may be a link of the user's own making (~/.cache moved elsewhere): it is followed; digesta/ is not.
    if (!ownedByUser(fs.existsSync(base) ? base : path.dirname(base), { othersMayWrite: true, follow: true })) return undefined;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return ownedByUser(digesta) && ownedByUser(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function ownedByUser(dir, { othersMayWrite = false, follow = false } = {}) {
  const stat = follow ? fs.statSync(dir) : fs.lstatSync(dir);
  return stat.isDirectory() && stat.uid === process.getuid() && (othersMayWrite || (stat.mode & 0o022) === 0);
}

/**
 * Runs the CommonJS file as require() would, from cached code when there is some; false when it did not run it
 * (Node 22.1 and later, whose own compile cache is switched on here, or anything amiss), for the caller to require it.
 */
function loadWithCodeCache(file, command, env = process.env) {
  const dir = cacheDirectory(env);
  if (typeof Module.enableCompileCache === "function") {
    if (dir) Module.enableCompileCache(path.join(dir, "node"));
    return false;
  }
  // Named for the command word, without a list of commands to keep in step with src/cli/main.ts: a word that is no
  // command costs one small file, and pruneCaches bounds them all.
  const name = /^[a-z]{1,16}$/.test(command ?? "") ? command : "other";
  return dir !== undefined && runFromCodeCache(file, dir, name) !== undefined;
}

/**
 * Runs the file from the code cached in `dir` under `name` for this very file, and saves the code V8 compiled by the end
 * of the run when it was not: "cached" or "compiled"; undefined, without running it, when the file could not be read.
 * What the file itself throws is thrown.
 */
function runFromCodeCache(file, dir, name) {
  let run;
  try {
    run = prepare(file, dir, name);
  } catch {
    return undefined;
  }
  return run();
}

function prepare(file, dir, name) {
  const vm = require("node:vm");
  const fd = fs.openSync(file, "r");
  let source, stat;
  try {
    stat = fs.fstatSync(fd);
    source = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  // V8 checks only the source's length against the cache; the change time is set by every write and by no one's hand.
  const key = Buffer.from(`digesta code cache\n${stat.size} ${stat.ino} ${stat.ctimeMs}\n`);
  // Named for the file too, so that two installations run in turn (a global one and npx's) keep a cache each.
  const cacheFile = path.join(dir, `${name}-${stat.ino}-${stat.size}.v8`);
  const cached = readCache(cacheFile, key);
  // The bundle has no import(): scripts/build-cli.mjs turns each into a require().
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
  const fromCache = cached !== undefined && !script.cachedDataRejected;
  const compiled = script.runInThisContext({ displayErrors: true });
  const loaded = new Module(file, module);
  loaded.filename = file;
  loaded.paths = Module._nodeModulePaths(path.dirname(file));
  const requireFromFile = Module.createRequire(file);
  return () => {
    if (!fromCache) process.once("exit", () => saveCache(cacheFile, key, script));
    compiled.call(loaded.exports, loaded.exports, requireFromFile, loaded, file, path.dirname(file));
    loaded.loaded = true;
    return fromCache ? "cached" : "compiled";
  };
}

function readCache(cacheFile, key) {
  let data;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  return data.length > key.length && data.subarray(0, key.length).equals(key) ? data.subarray(key.length) : undefined;
}

function saveCache(cacheFile, key, script) {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, Buffer.concat([key, script.createCachedData()]), { mode: 0o600, flag: "wx" });
    fs.renameSync(temporary, cacheFile);
    pruneCaches(path.dirname(cacheFile));
  } catch {
    fs.rmSync(temporary, { force: true });
  }
}

/** Caches of earlier installations are never used again: only the most recently written KEPT_CACHES stay. */
const KEPT_CACHES = 48;

function pruneCaches(dir) {
  const caches = fs.readdirSync(dir).filter((entry) => entry.endsWith(".v8"));
  if (caches.length <= KEPT_CACHES) return;
  const byAge = caches.map((entry) => ({ entry, written: fs.lstatSync(path.join(dir, entry)).mtimeMs })).sort((a, b) => b.written - a.written);
  for (const { entry } of byAge.slice(KEPT_CACHES)) fs.rmSync(path.join(dir, entry), { force: true });
}

module.exports = { loadWithCodeCache, runFromCodeCache, cacheDirectory };

if (require.main === module) {
  const bundle = path.join(__dirname, "..", "dist", "bundle", "digesta.cjs");
  loadWithCodeCache(bundle, process.argv[2]) || require(bundle);
}
