// Resolve: `digesta resolve HOST/REPO:TAG` against `skopeo inspect --raw docker://HOST/REPO:TAG` (Debian's skopeo),
// both whole processes against the same loopback registry (Debian's docker-registry, anonymous), paired run by run.
// Goal: within 2x of skopeo.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { MULTI_ARCH, pushBuild } from "../test/support/images.js";
import { startRegistry } from "../test/support/registry-server.js";
import { describePaired, digesta, nodeFloor, paired, withoutExtraCaCerts, type Command } from "./process.js";

const ROUNDS = 20;

export async function benchResolve(): Promise<void> {
  if (spawnSync("skopeo", ["--version"]).status !== 0) {
    console.log("skopeo not installed (apt-get install skopeo): no reference, no figure");
    return;
  }
  const registry = await startRegistry();
  try {
    const pushed = await pushBuild(registry, "bench/app", "1.0", { platforms: MULTI_ARCH });
    const image = `${registry.host}/bench/app:1.0`;
    const skopeo: Command = {
      label: "skopeo inspect --raw",
      file: "skopeo",
      args: ["inspect", "--raw", "--tls-verify=false", `docker://${image}`],
    };
    const subject = digesta("digesta resolve", "resolve", image);
    const result = paired(subject, skopeo, ROUNDS);
    console.log(`${image} (a multi-platform index on a loopback docker-registry, anonymous)`);
    console.log(describePaired(result, "≤ 2x"));
    const withoutCa = withoutExtraCaCerts(subject);
    if (withoutCa) {
      console.log("beside it, the same with NODE_EXTRA_CA_CERTS unset (Node 20 reads it at every start, Node 24 at its first TLS connection)");
      console.log(describePaired(paired(withoutCa, skopeo, ROUNDS)));
    }
    // What any Node program starts from, against the same reference: the part of the ratio digesta cannot remove.
    console.log("beside it, the floor of any Node program: node -e 0 against the same skopeo");
    console.log(describePaired(paired(nodeFloor, skopeo, ROUNDS)));
    const floorWithoutCa = withoutExtraCaCerts(nodeFloor);
    if (floorWithoutCa) console.log(describePaired(paired(floorWithoutCa, skopeo, ROUNDS)));
    const printed = result.subjectStdout.trim();
    const skopeoDigest = `sha256:${createHash("sha256").update(result.referenceStdout).digest("hex")}`;
    if (printed !== pushed.digest || skopeoDigest !== pushed.digest) {
      console.log(`  !! digests differ: pushed ${pushed.digest}, digesta ${printed}, skopeo's manifest hashes to ${skopeoDigest}`);
    }
  } finally {
    await registry.stop();
  }
}
