import { imageKey } from "../reference/format.js";
import type { Digest, ImageName, PinnedReference } from "../reference/types.js";
import { scanText } from "../scan/scanner.js";
import type { PinnedOccurrence } from "../scan/types.js";

/** One changed file of a pull request, as text on both sides (decoded as latin1, as the scanner reads files). */
export interface FileVersions {
  /** The path on the head side. */
  readonly path: string;
  readonly base: string;
  readonly head: string;
}

/** An image whose pinned digest a pull request changes: same registry and repository, the tag may change too. */
export interface DigestMove {
  readonly image: ImageName;
  readonly fromTag: string;
  readonly toTag: string;
  readonly from: Digest;
  readonly to: Digest;
  /** `path:line` on the head side, where the new digest is pinned. */
  readonly places: readonly string[];
}

export interface MoveOptions {
  /** Pins for which this returns a reason are left out (the configuration's `ignore`). */
  readonly skip?: (ref: PinnedReference) => string | undefined;
}

/**
 * The digests a pull request moves, from the two versions of each file it changes. In each file, the pins of one
 * image that disappear are paired with those that appear: same tag first, then in the order they stand. A digest
 * that only appears (a new pin) or only disappears (a removed one) is no move. The same move in several files is
 * one move with several places.
 */
export function findDigestMoves(files: readonly FileVersions[], options: MoveOptions = {}): DigestMove[] {
  const moves = new Map<string, { move: Omit<DigestMove, "places">; places: string[] }>();
  for (const file of files) {
    const before = byImage(scanText(file.path, file.base).pinned, options);
    const after = byImage(scanText(file.path, file.head).pinned, options);
    for (const [key, headPins] of after) {
      const basePins = before.get(key);
      if (!basePins) continue;
      const headDigests = new Set(headPins.map((p) => p.reference.digest));
      const baseDigests = new Set(basePins.map((p) => p.reference.digest));
      const gone = uniqueBy(basePins.filter((p) => !headDigests.has(p.reference.digest)), (p) => `${p.reference.tag}@${p.reference.digest}`);
      const added = headPins.filter((p) => !baseDigests.has(p.reference.digest));
      if (gone.length === 0 || added.length === 0) continue;
      for (const pin of added) {
        const match = gone.find((g) => g.reference.tag === pin.reference.tag) ?? gone[Math.min(added.indexOf(pin), gone.length - 1)]!;
        const ref = pin.reference;
        const id = `${key}@${match.reference.digest}..${ref.digest}`;
        let entry = moves.get(id);
        if (!entry) {
          entry = {
            move: {
              image: { registry: ref.registry, repository: ref.repository },
              fromTag: match.reference.tag,
              toTag: ref.tag,
              from: match.reference.digest,
              to: ref.digest,
            },
            places: [],
          };
          moves.set(id, entry);
        }
        entry.places.push(`${pin.path}:${pin.line}`);
      }
    }
  }
  return [...moves.values()].map(({ move, places }) => ({ ...move, places }));
}

function byImage(pins: readonly PinnedOccurrence[], options: MoveOptions): Map<string, PinnedOccurrence[]> {
  const found = new Map<string, PinnedOccurrence[]>();
  for (const pin of pins) {
    if (options.skip?.(pin.reference)) continue;
    const key = imageKey(pin.reference);
    const list = found.get(key);
    if (list) list.push(pin);
    else found.set(key, [pin]);
  }
  return found;
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
