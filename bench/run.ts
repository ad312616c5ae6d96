// `npm run bench [scan|registry|diff]…`: each benchmark prints its figures beside a reference measured in the same run.
import { benchScan } from "./scan.js";
import { benchRegistryRequests } from "./registry-requests.js";
import { benchDiff } from "./diff.js";

const benchmarks: Record<string, () => Promise<void>> = {
  scan: benchScan,
  registry: benchRegistryRequests,
  diff: benchDiff,
};

const chosen = process.argv.slice(2);
for (const name of chosen.length ? chosen : Object.keys(benchmarks)) {
  const bench = benchmarks[name];
  if (!bench) {
    console.error(`unknown benchmark "${name}"; choose from ${Object.keys(benchmarks).join(", ")}`);
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  await bench();
}
