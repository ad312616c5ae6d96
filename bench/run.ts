// `npm run bench [startup|resolve|scan|registry|diff|app|fleet]…`: each benchmark prints its figures beside a reference
// measured in the same run, with the machine and its load. Timed figures are whole processes, paired run by run
// (bench/process.ts); the registry, diff and app benchmarks count requests and bytes, which need no pairing.
import { benchApp } from "./app.js";
import { benchScan } from "./scan.js";
import { benchRegistryRequests } from "./registry-requests.js";
import { benchDiff } from "./diff.js";
import { benchFleet } from "./fleet.js";
import { benchStartup } from "./startup.js";
import { benchResolve } from "./resolve.js";
import { machineLine, ROOT } from "./process.js";
import { existsSync } from "node:fs";
import path from "node:path";

const benchmarks: Record<string, () => Promise<void>> = {
  startup: benchStartup,
  resolve: benchResolve,
  scan: benchScan,
  registry: benchRegistryRequests,
  diff: benchDiff,
  app: benchApp,
  fleet: benchFleet,
};
/** Run only when named: the fleet sweep takes minutes per fleet size. */
const ON_DEMAND = new Set(["fleet"]);

const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (!benchmarks[name]) {
    console.error(`unknown benchmark "${name}"; choose from ${Object.keys(benchmarks).join(", ")}`);
    process.exit(2);
  }
}
if (!existsSync(path.join(ROOT, "dist", "bundle", "digesta.cjs"))) {
  console.error("dist/ is missing: run `npm run build` first (the bench runs the CLI as it is installed)");
  process.exit(2);
}
console.log(machineLine());
for (const name of chosen.length ? chosen : Object.keys(benchmarks).filter((name) => !ON_DEMAND.has(name))) {
  console.log(`\n== ${name}`);
  await benchmarks[name]!();
}
