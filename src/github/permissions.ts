import type { ProbotOctokit } from "probot";

/** What digesta may do in one installation, as far as it can tell. */
export interface GrantedPermissions {
  /** May change `.github/workflows/` files. Undefined when the token does not say (a plain token). */
  readonly workflows: boolean | undefined;
}

/**
 * The permissions of the installation token behind `octokit`, from the token itself (GitHub returns them with the
 * token, which Probot caches: no extra request). The token is read here and never returned or logged.
 */
export async function grantedPermissions(octokit: ProbotOctokit): Promise<GrantedPermissions> {
  try {
    const auth = (await octokit.auth({ type: "installation" })) as { permissions?: Record<string, string> } | undefined;
    const permissions = auth?.permissions;
    if (!permissions || typeof permissions !== "object") return { workflows: undefined };
    return { workflows: permissions["workflows"] === "write" };
  } catch {
    return { workflows: undefined };
  }
}
