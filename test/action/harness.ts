// The committed Action bundle, started as the Actions runner starts a node24 action: `node dist-action/index.js` with
// the inputs in INPUT_* variables, the workflow's context in GITHUB_*, and outputs read back from the GITHUB_OUTPUT
// file. Shared by the Action's suites.
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { runProcess } from "../support/process.js";

const BUNDLE = resolve(import.meta.dirname, "../../dist-action/index.js");
export const ACTION_TOKEN = "ghs_action_token";

export interface ActionRun {
  readonly code: number | null;
  /** Set when the process had to be killed: it did not end by itself. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
}

export interface ActionStep {
  /** The GitHub fake's URL (GITHUB_API_URL). */
  readonly api: string;
  /** A fresh directory: HOME, RUNNER_TEMP, the output and summary files. */
  readonly work: string;
  /** The step's `with:`, by input name. */
  readonly inputs?: Record<string, string>;
  /** The step's `env:` (and the runner's, such as HTTPS_PROXY on a self-hosted runner). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads `name<<DELIMITER` … `DELIMITER` blocks, as the runner does. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!head) continue;
    const end = lines.indexOf(head[2]!, i + 1);
    outputs[head[1]!] = lines.slice(i + 1, end).join("\n");
    i = end;
  }
  return outputs;
}

/** Runs the Action on `someone/tools` once and reads back what it printed, its outputs and its job summary. */
export async function runActionStep(step: ActionStep): Promise<ActionRun> {
  const outputFile = join(step.work, "output");
  const summaryFile = join(step.work, "summary");
  await writeFile(outputFile, "");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: step.work,
    // action.yml's defaults, as the runner fills them in, then the step's `with:`.
    INPUT_TOKEN: ACTION_TOKEN,
    INPUT_REPOSITORY: "someone/tools",
    "INPUT_DRY-RUN": "false",
    INPUT_CONFIG: ".github/digesta.yml",
    "INPUT_LOG-LEVEL": "info",
    "INPUT_REGISTRY-MIRRORS": "",
    ...Object.fromEntries(Object.entries(step.inputs ?? {}).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])),
    GITHUB_REPOSITORY: "someone/tools",
    GITHUB_API_URL: step.api,
    GITHUB_SERVER_URL: "https://github.example",
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: step.work,
    ...step.env,
  };
  // The runner waits for the process to end: one that does not end by itself is killed here, generously late.
  const { code, signal, stdout, stderr } = await runProcess(process.execPath, [BUNDLE], { cwd: step.work, env, killAfterMs: 50_000 });
  const summary = await readFile(summaryFile, "utf8").catch(() => "");
  return { code, signal, stdout: stdout + stderr, outputs: parseOutputs(await readFile(outputFile, "utf8")), summary };
}
