// Start-up: `digesta --version` and `digesta scan EMPTY_DIR` as whole processes, against `node -e 0` (the floor of
// any Node CLI), paired run by run. Goal: within 1.5x of the floor.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describePaired, digesta, nodeFloor, paired, type Command } from "./process.js";

const ROUNDS = 30;

export async function benchStartup(): Promise<void> {
  const empty = mkdtempSync(path.join(tmpdir(), "digesta-empty-"));
  try {
    console.log("digesta --version");
    console.log(describePaired(paired(digesta("digesta --version", "--version"), nodeFloor, ROUNDS), "≤ 1.5x"));
    console.log("digesta scan EMPTY_DIR");
    // An empty tree is a warning and exit 2 (no false green), which is what a user running this sees.
    const scan: Command = { ...digesta("digesta scan EMPTY_DIR", "scan", empty), ok: [2] };
    console.log(describePaired(paired(scan, nodeFloor, ROUNDS), "≤ 1.5x"));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}
