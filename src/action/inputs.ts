import { MirrorConfigError, parseMirrors } from "../registry/mirrors.js";

/** What the workflow gave the action (`with:`), as the runner passes it: `INPUT_<NAME>`, name upper-cased, spaces as `_`. */
export interface ActionInputs {
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  readonly dryRun: boolean;
  /** The configuration file's path in the repository. */
  readonly config: string;
  readonly logLevel: string;
  /** The REST API (`GITHUB_API_URL`: GitHub Enterprise Server's `https://HOST/api/v3`). */
  readonly apiUrl: string;
  /** Where pull requests are shown (`GITHUB_SERVER_URL`). */
  readonly serverUrl: string;
  /** `REGISTRY=MIRROR[/PREFIX]` entries, as DIGESTA_REGISTRY_MIRRORS writes them (checked already). */
  readonly registryMirrors: readonly string[];
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** An input the workflow got wrong: the action stops with this message and touches nothing. */
export class InputError extends Error {}

function input(env: NodeJS.ProcessEnv, name: string): string {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

/** YAML 1.2's booleans, as `core.getBooleanInput` reads them. */
function booleanInput(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = input(env, name);
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE", ""].includes(value)) return false;
  throw new InputError(`input ${name} is "${value}": use true or false`);
}

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const token = input(env, "token");
  if (!token) throw new InputError("input token is empty: give a token that may write contents, pull requests and issues (the default is github.token)");
  const repository = input(env, "repository") || (env["GITHUB_REPOSITORY"] ?? "");
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!match) throw new InputError(`input repository is "${repository}": use OWNER/NAME`);
  const logLevel = input(env, "log-level") || "info";
  if (!LOG_LEVELS.includes(logLevel)) throw new InputError(`input log-level is "${logLevel}": use one of ${LOG_LEVELS.join(", ")}`);
  const config = input(env, "config") || ".github/digesta.yml";
  if (config.startsWith("/") || config.split("/").includes("..")) throw new InputError(`input config is "${config}": use a path inside the repository`);
  const registryMirrors = mirrorsInput(env);
  return {
    token,
    owner: match[1]!,
    repo: match[2]!,
    dryRun: booleanInput(env, "dry-run"),
    config,
    logLevel,
    apiUrl: (env["GITHUB_API_URL"] || "https://api.github.com").replace(/\/+$/, ""),
    serverUrl: (env["GITHUB_SERVER_URL"] || "https://github.com").replace(/\/+$/, ""),
    registryMirrors,
  };
}

/**
 * `registry-mirrors`: `docker.io=mirror.example.com,ghcr.io=mirror.example.com/ghcr`, entries split by commas or lines
 * (a YAML block), as DIGESTA_REGISTRY_MIRRORS. A registry given a mirror both here and in that variable is refused:
 * which one was meant cannot be told.
 */
function mirrorsInput(env: NodeJS.ProcessEnv): string[] {
  const entries = input(env, "registry-mirrors")
    .split(/[\r\n,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  try {
    const given = parseMirrors(entries, "input registry-mirrors");
    const fromEnv = parseMirrors(env["DIGESTA_REGISTRY_MIRRORS"] ? [env["DIGESTA_REGISTRY_MIRRORS"]] : [], "DIGESTA_REGISTRY_MIRRORS");
    const both = [...given.keys()].find((registry) => fromEnv.has(registry));
    if (both) throw new MirrorConfigError(`input registry-mirrors and DIGESTA_REGISTRY_MIRRORS both give ${both} a mirror: give it in one place`);
  } catch (error) {
    if (error instanceof MirrorConfigError) throw new InputError(error.message);
    throw error;
  }
  return entries;
}
