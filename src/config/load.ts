import type { ProbotOctokit } from "probot";
import { z } from "zod";
import { CONFIG_PATH, configSchema, DEFAULT_CONFIG, toDigestaConfig, type DigestaConfig } from "./schema.js";
import { problemFromYamlError, problemsFromZod, type ConfigProblem, type ConfigSource } from "./problems.js";

export type ConfigResult =
  | {
      readonly ok: true;
      readonly config: DigestaConfig;
      /** Files the configuration was read from (`owner/repo:path`), the repository's own first; empty for defaults. */
      readonly files: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

const PLUGIN_ERROR = "[@probot/octokit-plugin-config]";

/**
 * Reads `.github/digesta.yml` with Probot's config loader (the repository's file, else the owner's `.github`
 * repository's, following `_extends`) and validates it. A broken file gives problems with file and line; a failure to
 * reach GitHub is thrown, not reported as a configuration problem.
 */
export async function loadRepositoryConfig(
  octokit: ProbotOctokit,
  repository: { readonly owner: string; readonly repo: string },
  path: string = CONFIG_PATH,
): Promise<ConfigResult> {
  const own = `${repository.owner}/${repository.repo}:${path}`;
  let loaded: Awaited<ReturnType<ProbotOctokit["config"]["get"]>>;
  try {
    loaded = await octokit.config.get({ ...repository, path });
  } catch (error) {
    const yamlProblem = problemFromYamlError(error, fileOfPluginError(error) ?? own);
    if (yamlProblem) return { ok: false, problems: [yamlProblem] };
    if (error instanceof Error && error.message.startsWith(PLUGIN_ERROR)) {
      return { ok: false, problems: [{ file: fileOfPluginError(error) ?? own, message: error.message.slice(PLUGIN_ERROR.length).trim() }] };
    }
    throw error;
  }
  const present = loaded.files.filter((file) => file.config !== null);
  const names = present.map((file) => `${file.owner}/${file.repo}:${file.path}`);
  const merged: unknown = present.length === 0 ? {} : loaded.config;
  const parsed = configSchema.safeParse(merged);
  if (parsed.success) return { ok: true, config: toDigestaConfig(parsed.data), files: names };

  const sources: ConfigSource[] = [];
  for (const file of present) {
    const text = await readRaw(octokit, file).catch(() => undefined);
    if (text !== undefined) sources.push({ file: `${file.owner}/${file.repo}:${file.path}`, text });
  }
  return { ok: false, problems: problemsFromZod(parsed.error, sources.length > 0 ? sources : names.map((file) => ({ file, text: "" }))) };
}

/**
 * The configuration for work that is not the refresh (pull request comments, commands): a broken file is the
 * refresh's to report (its issue), so this goes on with the defaults and says so in `onBroken`.
 */
export async function loadConfigOrDefaults(
  octokit: ProbotOctokit,
  repository: { readonly owner: string; readonly repo: string },
  onBroken?: (problems: readonly ConfigProblem[]) => void,
): Promise<DigestaConfig> {
  const loaded = await loadRepositoryConfig(octokit, repository);
  if (loaded.ok) return loaded.config;
  onBroken?.(loaded.problems);
  return DEFAULT_CONFIG;
}

/** Validates an already-parsed configuration object (one-shot runs with a local file, tests). */
export function validateConfig(value: unknown, source?: ConfigSource): ConfigResult {
  const parsed = configSchema.safeParse(value ?? {});
  if (parsed.success) return { ok: true, config: toDigestaConfig(parsed.data), files: source ? [source.file] : [] };
  return { ok: false, problems: problemsFromZod(parsed.error as z.ZodError, source ? [source] : []) };
}

async function readRaw(octokit: ProbotOctokit, file: { owner: string; repo: string; path: string }): Promise<string | undefined> {
  const response = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
    owner: file.owner,
    repo: file.repo,
    path: file.path,
    mediaType: { format: "raw" },
  });
  return typeof response.data === "string" ? response.data : undefined;
}

/** The plugin names the file by its API URL; turn it back into `owner/repo:path`. */
function fileOfPluginError(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : "";
  const match = /\/repos\/([^/\s]+)\/([^/\s]+)\/contents\/([^\s?)]+)/.exec(message);
  return match ? `${match[1]}/${match[2]}:${decodeURIComponent(match[3]!)}` : undefined;
}
