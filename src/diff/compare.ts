import type { PackageDiff, PackageList } from "./types.js";

/**
 * Added, removed and changed packages between two package lists, keyed by type + name + arch,
 * each list sorted, each change classified. Deterministic: same input, same output.
 */
export function diffPackageLists(previous: PackageList, current: PackageList): PackageDiff {
  void previous;
  void current;
  throw new Error("diffPackageLists: not implemented yet");
}
