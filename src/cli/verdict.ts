import { VERDICT_WORDS, type Verdict } from "../verify/types.js";

/** `verified\tIMAGE@DIGEST\tby …\tsigned as …`, or the status in words with the reason: one line per verdict. */
export function verdictLine(verdict: Verdict, shown: string): string {
  if (verdict.status === "verified") return `verified\t${shown}\tby ${verdict.by}${verdict.dockerReference ? `\tsigned as ${verdict.dockerReference}` : ""}`;
  return `${VERDICT_WORDS[verdict.status]}\t${shown}\t${verdict.reason}`;
}

/** A signature that could not be checked leaves the answer incomplete, as an image that could not be resolved does. */
export function uncheckable(verdicts: ReadonlyMap<string, Verdict>): boolean {
  return [...verdicts.values()].some((verdict) => verdict.status === "error");
}
