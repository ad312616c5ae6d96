import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import { createLogger } from "../logging/logger.js";
import { refreshRepository, type RefreshOutcome } from "./refresh.js";
import { createSessionFactory, registrySettingsFromEnv, type RegistrySettings } from "./registry-setup.js";
import type { RegistrySession } from "./session.js";
import { githubRequestOptions } from "../net/proxy-fetch.js";

export interface OneShotOptions {
  readonly owner: string;
  readonly repo: string;
  /** A token that may write contents, pull requests and issues (`GITHUB_TOKEN` in a workflow, an installation token). */
  readonly token: string;
  /** GitHub Enterprise Server: `https://github.example.com/api/v3`. */
  readonly baseUrl?: string;
  /**
   * Whether the token may change `.github/workflows/` files. Default: try, and leave them out (saying so in the
   * pull request) if GitHub refuses.
   */
  readonly canWriteWorkflows?: boolean;
  /** The configuration file's path in the repository (default `.github/digesta.yml`). */
  readonly configPath?: string;
  /** Read and plan only: nothing is written to GitHub. */
  readonly dryRun?: boolean;
  /** Registry settings; default from the environment (`DIGESTA_ALLOW_PRIVATE_REGISTRIES`, `DOCKER_CONFIG`…). */
  readonly registry?: RegistrySettings;
  /** A ready session instead (tests, callers sharing one across repositories). */
  readonly session?: RegistrySession;
  readonly log?: Logger;
  /** A ready client instead of one made from `token` (tests). */
  readonly octokit?: ProbotOctokit;
}

/**
 * `digesta github --repo OWNER/NAME`: one repository's refresh with a token, by the same code as the app (the same
 * configuration file, pull request and configuration issue), for a scheduled workflow instead of a hosted app.
 */
export async function runOneShot(options: OneShotOptions): Promise<RefreshOutcome> {
  const log = (options.log ?? createLogger()).child({ repository: `${options.owner}/${options.repo}` });
  const octokit =
    options.octokit ??
    new ProbotOctokit({
    auth: { token: options.token },
    log: { debug: () => undefined, info: () => undefined, warn: (message: string) => log.warn(message), error: (message: string) => log.error(message) },
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ...githubRequestOptions(),
    });
  const session = options.session ?? createSessionFactory({ ...registrySettingsFromEnv(), ...options.registry })();
  return refreshRepository({
    octokit,
    repository: { owner: options.owner, repo: options.repo },
    session,
    log,
    ...(options.canWriteWorkflows !== undefined ? { canWriteWorkflows: options.canWriteWorkflows } : {}),
    ...(options.configPath ? { configPath: options.configPath } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  });
}
