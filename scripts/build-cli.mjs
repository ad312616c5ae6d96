#!/usr/bin/env node
// Bundles the command-line entry (src/cli/bin.ts) into dist/bundle/: start-up is mostly the loading of modules, and
// one file (plus a chunk per lazily loaded command) loads in a fraction of the time of the thirty-odd files tsc
// writes. commander and picomatch, on the start-up path, are bundled; every other dependency stays a package,
// loaded from node_modules when a command needs it. The scan's worker thread is an entry of its own beside it.
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

await rm(path.join(root, "dist", "bundle"), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { digesta: "src/cli/bin.ts", "read-worker": "src/scan/read-worker.ts" },
  outdir: "dist/bundle",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: Object.keys(pkg.dependencies).filter((name) => !BUNDLED.has(name)),
  // The version is written in, instead of read from package.json at start-up.
  define: { __DIGESTA_VERSION__: JSON.stringify(pkg.version) },
  // commander is CommonJS and calls require() for Node's own modules.
  banner: { js: 'import { createRequire as __digestaCreateRequire } from "node:module";\nconst require = __digestaCreateRequire(import.meta.url);' },
  legalComments: "none",
  logLevel: "error",
});
