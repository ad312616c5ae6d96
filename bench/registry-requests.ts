// How many registry requests following 1,000 pins costs, against a real token-auth registry (distribution 2.8):
// 10 repositories × 5 multi-arch tags, half of them moved, pins mixing index and platform pins. The goal is one
// manifest request per unique tag and one token per repository scope; the reference is the same pins followed
// without memoisation (a new follower per pin, the client and its tokens shared). Following is what every reading
// path costs (check, the app's planning); a write (update, the app's pull requests) then confirms each distinct
// digest it would write that the run has not read, once: a HEAD each, counted apart.
// Run alone: node --import tsx bench/registry-requests.ts
import { pathToFileURL } from "node:url";
import pLimit from "p-limit";
import type { Digest, PinnedReference } from "../src/reference/types.js";
import { createRegistryClient, type RegistryClient } from "../src/registry/client.js";
import { createPinFollower, type FollowedPin } from "../src/registry/follow.js";
import { memoizeManifests } from "../src/registry/manifest-memo.js";
import { MULTI_ARCH, platformKey, pushBuild, type PushedBuild } from "../test/support/images.js";
import { startRegistry, type TestRegistry } from "../test/support/registry-server.js";

const REPOSITORIES = 10;
const TAGS_PER_REPOSITORY = 5;
const PINS = 1000;
const PIN_KINDS = ["index", ...MULTI_ARCH.map(platformKey)] as const;

interface TagFixture {
  readonly repository: string;
  readonly tag: string;
  readonly before: PushedBuild;
  readonly after: PushedBuild;
}

interface PinCase {
  readonly pin: PinnedReference;
  readonly expected: Digest;
}

async function pushFixtures(reg: TestRegistry): Promise<TagFixture[]> {
  const limit = pLimit(8);
  const jobs: Promise<TagFixture>[] = [];
  for (let r = 0; r < REPOSITORIES; r++) {
    for (let t = 0; t < TAGS_PER_REPOSITORY; t++) {
      const repository = `bench/service-${r}`;
      const tag = `1.${t}`;
      const moves = (r * TAGS_PER_REPOSITORY + t) % 2 === 0;
      jobs.push(
        limit(async () => {
          const before = await pushBuild(reg, repository, tag, { platforms: MULTI_ARCH, generation: 1 });
          const after = moves ? await pushBuild(reg, repository, tag, { platforms: MULTI_ARCH, generation: 2 }) : before;
          return { repository, tag, before, after };
        }),
      );
    }
  }
  return Promise.all(jobs);
}

function pinCases(reg: TestRegistry, fixtures: readonly TagFixture[]): PinCase[] {
  return Array.from({ length: PINS }, (_, i) => {
    const fixture = fixtures[i % fixtures.length]!;
    const kind = PIN_KINDS[Math.floor(i / fixtures.length) % PIN_KINDS.length]!;
    const pinned = kind === "index" ? fixture.before.digest : fixture.before.platforms[kind]!;
    const expected = kind === "index" ? fixture.after.digest : fixture.after.platforms[kind]!;
    return { pin: { registry: reg.host, repository: fixture.repository, tag: fixture.tag, digest: pinned }, expected };
  });
}

interface Run {
  readonly manifest: number;
  readonly token: number;
  readonly blob: number;
  readonly total: number;
  readonly wrong: number;
  /** Manifest requests (all HEADs here) that confirming the digests a write would move to added after following. */
  readonly confirm?: number;
}

async function followAll(client: RegistryClient, cases: readonly PinCase[], memoised: boolean): Promise<Run> {
  // One manifest memo for the run, as the CLI and the app have: the confirmation reads from what following read.
  const reader = memoizeManifests(client);
  const shared = createPinFollower(reader);
  const results = await Promise.all(
    cases.map(({ pin }) => (memoised ? shared : createPinFollower(client)).follow(pin).then((r): FollowedPin | undefined => r, () => undefined)),
  );
  const stats = client.stats();
  const run = {
    manifest: stats.byKind.manifest,
    token: stats.tokenRequests,
    blob: stats.byKind.blob,
    total: stats.requests,
    wrong: results.filter((r, i) => r?.current !== cases[i]!.expected).length,
  };
  if (!memoised) return run;
  // What update (without package diffs) then asks before it writes, as src/engine/confirm.ts does.
  await Promise.all(
    results.map((r, i) => (r && r.current !== cases[i]!.pin.digest ? reader.confirm(cases[i]!.pin, r.current, r.kind) : undefined)),
  );
  return { ...run, confirm: client.stats().byKind.manifest - stats.byKind.manifest };
}

export async function benchRegistryRequests(): Promise<void> {
  const reg = await startRegistry({ auth: "token" });
  try {
    const fixtures = await pushFixtures(reg);
    const cases = pinCases(reg, fixtures);
    const dockerConfig = await reg.dockerConfigDir();
    const newClient = () => createRegistryClient({ env: { DOCKER_CONFIG: dockerConfig }, retries: 0 });

    const digesta = await followAll(newClient(), cases, true);
    const reference = await followAll(newClient(), cases, false);

    const uniqueTags = fixtures.length;
    const scopes = new Set(fixtures.map((f) => f.repository)).size;
    const moved = fixtures.filter((f) => f.after !== f.before).length;
    console.log(
      `${PINS} pins (${PIN_KINDS.join(", ")}) over ${uniqueTags} unique tags (${moved} moved) in ${scopes} repositories, token auth`,
    );
    const row = (label: string, run: Run) =>
      console.log(
        `${label.padEnd(28)} manifest ${String(run.manifest).padStart(5)}  token ${String(run.token).padStart(4)}  blob ${String(run.blob).padStart(5)}  total ${String(run.total).padStart(5)}  wrong ${run.wrong}`,
      );
    row("digesta (one follower)", digesta);
    row("reference (follower per pin)", reference);
    // Without tag history, a stale pin's own manifest must be read once to know whether it is an index or which
    // platform it is: the least any follower can do is one request per tag plus one per distinct stale digest.
    const stale = cases.filter((c) => c.pin.digest !== c.expected);
    const staleDigests = new Set(stale.map((c) => c.pin.digest)).size;
    const floor = uniqueTags + staleDigests;
    // A write must also know the registry holds each platform image an index names for a pin (it may have deleted
    // it): one HEAD per distinct one, none when the package diff reads it anyway (the run's memo shares that GET).
    const tagDigests = new Set(fixtures.map((f) => f.after.digest));
    const movedTo = new Set(stale.map((c) => c.expected).filter((d) => !tagDigests.has(d))).size;
    console.log(`unique tags ${uniqueTags}, unique repository scopes ${scopes}, distinct stale pinned digests ${staleDigests}, distinct platform images moved to ${movedTo}`);
    console.log(`manifest requests / floor (1 per tag + 1 per distinct stale digest = ${floor}): ${(digesta.manifest / floor).toFixed(2)}`);
    console.log(
      `before a write (update --no-diff): ${digesta.confirm} more manifest requests (HEAD), ${((digesta.confirm ?? 0) / Math.max(1, movedTo)).toFixed(2)} per distinct platform image moved to; ` +
        `with package diffs none: the GET the diff makes of each confirms it (test/cli/update-requests.test.ts)`,
    );
    console.log(
      `manifest requests / goal (1 per unique tag): ${(digesta.manifest / uniqueTags).toFixed(2)}; ` +
        `token requests / goal (1 per repository scope): ${(digesta.token / scopes).toFixed(2)}; ` +
        `reference manifest requests / digesta: ${(reference.manifest / Math.max(1, digesta.manifest)).toFixed(1)}×`,
    );
  } finally {
    await reg.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchRegistryRequests();
}
