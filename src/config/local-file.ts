import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { CONFIG_PATH, DEFAULT_CONFIG } from "./defaults.js";
import type { ConfigResult } from "./load.js";
import type { ConfigProblem } from "./problems.js";

/** No real configuration is this large; a bigger file is refused before it is parsed. */
const MAX_CONFIG_BYTES = 256 * 1024;

/** Where a checkout's configuration came from: its own `.github/digesta.yml`, a file named by the user, or none. */
export type LocalConfigSource = { readonly kind: "file"; readonly file: string } | { readonly kind: "defaults"; readonly why: string };

export type LocalConfigResult = (ConfigResult & { readonly source: LocalConfigSource }) & {
  /** Things worth saying that do not stop the run (`_extends`, which only the app can follow). */
  readonly notes: readonly string[];
};

export interface LocalConfigOptions {
  /** A file to read instead of `<root>/.github/digesta.yml` (`--config`); it must exist. */
  readonly file?: string;
  /** Use the defaults whatever is on disk (`--no-config`). */
  readonly none?: boolean;
}

/**
 * The configuration of a checkout on disk, read as the app reads the repository's: `.github/digesta.yml` under
 * `root`, validated by the same schema, so that CI's `digesta check` and the app agree on what is pinned and what
 * is left alone. A missing file means the defaults; a broken one gives its problems with file and line.
 */
export async function loadLocalConfig(root: string, options: LocalConfigOptions = {}): Promise<LocalConfigResult> {
  if (options.none) return { ok: true, config: DEFAULT_CONFIG, files: [], source: { kind: "defaults", why: "--no-config" }, notes: [] };
  const explicit = options.file !== undefined;
  const file = options.file ?? path.join(root, CONFIG_PATH);
  const shown = explicit ? file : CONFIG_PATH;
  const text = readSmallFile(file, shown, explicit);
  if (text === undefined) {
    return { ok: true, config: DEFAULT_CONFIG, files: [], source: { kind: "defaults", why: `no ${CONFIG_PATH}` }, notes: [] };
  }
  const source: LocalConfigSource = { kind: "file", file: shown };
  if (typeof text !== "string") return { ok: false, problems: [text], source, notes: [] };

  // The YAML parser and the schema are loaded only when there is a file to read (they dominate a scan's start-up).
  const [{ parse }, { validateConfig }, { problemFromYamlError }] = await Promise.all([import("yaml"), import("./load.js"), import("./problems.js")]);
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: true, maxAliasCount: 100 });
  } catch (error) {
    const problem = problemFromYamlError(error, shown) ?? { file: shown, message: `invalid YAML: ${String(error)}` };
    return { ok: false, problems: [problem], source, notes: [] };
  }
  const notes: string[] = [];
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "_extends" in value) {
    // Probot's loader follows `_extends` to another repository over the API; a checkout has no such reach.
    notes.push(`${shown}: _extends is followed by the app only; the command line uses this file's own settings`);
    const { _extends: _, ...own } = value as Record<string, unknown>;
    value = own;
  }
  return { ...validateConfig(value, { file: shown, text }), source, notes };
}

/**
 * The file's text; undefined when it does not exist (and was not asked for by name); a problem when unreadable.
 * Read synchronously: node:fs/promises is a large load for a command-line run's start, and a small file takes
 * no time. Opened non-blocking, so that a FIFO in its place is refused instead of waited on.
 */
function readSmallFile(file: string, shown: string, required: boolean): string | ConfigProblem | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) return undefined;
    return { file: shown, message: code === "ENOENT" ? "no such file" : `not readable (${code ?? String(error)})` };
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return { file: shown, message: "not a regular file" };
    if (info.size > MAX_CONFIG_BYTES) return { file: shown, message: `larger than ${MAX_CONFIG_BYTES / 1024} KiB; no configuration is that long` };
    return readFileSync(fd, "utf8");
  } catch (error) {
    return { file: shown, message: `not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  } finally {
    closeSync(fd);
  }
}

/** `file:line: field: message`, one line per problem, for the terminal. */
export function formatConfigProblem(problem: ConfigProblem): string {
  const where = [problem.file, problem.line].filter((part) => part !== undefined).join(":");
  return `${where ? `${where}: ` : ""}${problem.field ? `${problem.field}: ` : ""}${problem.message}`;
}
