import Bottleneck from "bottleneck";
import { ProbotOctokit } from "probot";

/**
 * The app's GitHub client, from the environment. By default Probot's, paced as GitHub asks of integrations to stay
 * clear of its secondary rate limits: writes (POST, PATCH, PUT, DELETE) one at a time and at least a second apart,
 * and requests that create content others are notified of (pull requests, issues, comments) at least three seconds
 * apart, per installation. In a fleet that pace holds for the whole fleet (Probot clusters it through Redis), so at
 * most about twenty pull requests a minute are opened in one installation, however many workers run. `DIGESTA_GITHUB_WRITE_INTERVAL_MS` sets another gap
 * for both, per process (still one write at a time), for a GitHub Enterprise Server whose administrator set other
 * limits, or none (0).
 */
export function githubClientFromEnv(env: NodeJS.ProcessEnv = process.env): typeof ProbotOctokit | undefined {
  const raw = env["DIGESTA_GITHUB_WRITE_INTERVAL_MS"]?.trim();
  if (!raw) return undefined;
  const gap = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(gap)) {
    throw new Error(`DIGESTA_GITHUB_WRITE_INTERVAL_MS must be a whole number of milliseconds (0 or more), not ${JSON.stringify(raw)}`);
  }
  // The throttling plugin takes its limiters from the options when given: this process's own.
  const write = new Bottleneck.Group({ id: "digesta-github-write", maxConcurrent: 1, minTime: gap });
  const notifications = new Bottleneck.Group({ id: "digesta-github-notifications", maxConcurrent: 1, minTime: gap });
  return ProbotOctokit.defaults((options: Record<string, unknown>) => ({
    ...options,
    throttle: { ...(options["throttle"] as object | undefined), write, notifications },
  }));
}
