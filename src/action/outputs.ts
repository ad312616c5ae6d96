import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";

/**
 * Sets step outputs the way the runner reads them: appended to the `GITHUB_OUTPUT` file, each in the multi-line form
 * `name<<DELIMITER`…`DELIMITER` with a delimiter the value cannot contain, so a value can never forge another output.
 */
export function writeOutputs(file: string | undefined, outputs: Record<string, string>): void {
  if (!file) return;
  let text = "";
  for (const [name, value] of Object.entries(outputs)) {
    const delimiter = `ghadelimiter_${randomUUID()}`;
    text += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  appendFileSync(file, text, "utf8");
}

/** Appends Markdown to the job's summary page (`GITHUB_STEP_SUMMARY`). */
export function writeSummary(file: string | undefined, markdown: string): void {
  if (file) appendFileSync(file, `${markdown}\n`, "utf8");
}

/** A workflow command (`::error::…`) whose message cannot start another command. */
export function annotation(level: "error" | "warning" | "notice", message: string): string {
  return `::${level}::${message.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A")}\n`;
}
