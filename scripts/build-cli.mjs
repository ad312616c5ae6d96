#!/usr/bin/env node
// Bundles the command-line entry (src/cli/bin.ts) into dist/bundle/digesta.cjs: start-up is mostly the loading of
// modules, and one file loads in a fraction of the time of the thirty-odd files tsc writes. commander, picomatch and
// p-limit are bundled; every other dependency stays a package, loaded from node_modules when a command needs it. The
// scan's worker thread is an entry of its own beside it.
// Runs after tsc in `npm run build`.
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
// p-limit too: resolving a package from node_modules costs a registry command more than its few lines do.
const BUNDLED = new Set(["commander", "picomatch", "p-limit"]);

// Two loads that a command-line run's start can do without:
// - commander requires node:child_process at load, for executable subcommands, which digesta has none of; loading
//   it (with net, dgram and the stream machinery behind it) was a tenth of a scan's start on Node 24;
// - an ES import of node:fs makes Node read every export of the module, fs.promises among them, which loads
//   node:fs/promises and readline behind it; required as CommonJS, only what is used is touched.
// Each gets a stand-in that reaches the real module on first use.
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy" } : undefined,
    );
    build.onResolve({ filter: /^(node:)?fs$/ }, (args) => (args.kind === "import-statement" ? { path: "fs", namespace: "lazy" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => ({
      contents:
        args.path === "fs"
          ? 'module.exports = require("node:fs");'
          : 'module.exports = { spawn: (...args) => require("node:child_process").spawn(...args) };',
      loader: "js",
    }));
  },
};

const common = {
  absWorkingDir: root,
  outdir: "dist/bundle",
  bundle: true,
  platform: "node",
  target: "node20",
  external: Object.keys(pkg.dependencies).filter((name) => !BUNDLED.has(name)),
  // The version is written in, instead of read from package.json at start-up.
  define: { __DIGESTA_VERSION__: JSON.stringify(pkg.version) },
  plugins: [lazyBuiltins],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "error",
};

await rm(path.join(root, "dist", "bundle"), { recursive: true, force: true });
// The command line is one CommonJS file: require() loads it without the ES module loader, which (with a compile of
// each of the thirty-odd chunks an ES build splits into) was a sixth of a resolve's run on Node 20 and a quarter on
// Node 24. Commands stay lazy inside it: esbuild wraps each dynamically imported module in a function run on first
// use, so a command's code is parsed but not run by another command.
await build({
  ...common,
  entryPoints: { digesta: "src/cli/bin.ts" },
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  define: { ...common.define, "import.meta.url": "__digestaModuleUrl" },
  // A package a command imports on use (yaml, sql.js) is required, not imported: the ES module loader costs a run
  // more than the package, and a bundle compiled from cached code (bin/code-cache.js) has no import() at all.
  supported: { "dynamic-import": false },
  banner: { js: 'const __digestaModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
// The scan's worker thread is an ES module of its own, started from the URL src/scan/read-pool.ts names.
await build({
  ...common,
  entryPoints: { "read-worker": "src/scan/read-worker.ts" },
  format: "esm",
  // commander is CommonJS and calls require() for Node's own modules.
  banner: { js: 'import { createRequire as __digestaCreateRequire } from "node:module";\nconst require = __digestaCreateRequire(import.meta.url);' },
});
