import { ProbotOctokit } from "probot";
import { ProxyAgent, fetch as undiciFetch } from "undici";
import { proxyFor, proxySettingsFromEnv } from "./proxy.js";

/**
 * A fetch for GitHub's API (Octokit's `request.fetch`) that honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY as the
 * registry client does: a CONNECT tunnel through the proxy (its credentials, from its URL, to the proxy alone), NO_PROXY
 * hosts direct. Undefined when the environment names no proxy: Octokit's own fetch is then used as it is.
 */
export function proxyAwareFetch(env: NodeJS.ProcessEnv = process.env): typeof fetch | undefined {
  const settings = proxySettingsFromEnv(env);
  if (!settings) return undefined;
  const agents = new Map<string, ProxyAgent>();
  const agentFor = (proxy: URL): ProxyAgent => {
    let agent = agents.get(proxy.href);
    if (!agent) {
      agent = new ProxyAgent({ uri: proxy.href });
      agents.set(proxy.href, agent);
    }
    return agent;
  };
  return ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const proxy = proxyFor(settings, url);
    if (!proxy) return globalThis.fetch(input, init);
    return undiciFetch(input as never, { ...(init as object), dispatcher: agentFor(proxy) } as never);
  }) as unknown as typeof fetch;
}

/** Octokit options that send its requests by `proxyAwareFetch` when the environment names a proxy; none otherwise. */
export function githubRequestOptions(env: NodeJS.ProcessEnv = process.env): { readonly request?: { readonly fetch: typeof fetch } } {
  const fetcher = proxyAwareFetch(env);
  return fetcher ? { request: { fetch: fetcher } } : {};
}

/**
 * Probot's Octokit class (or one already given defaults) whose requests go by `proxyAwareFetch` when the environment
 * names a proxy; undefined (Probot's own) when neither a class nor a proxy is given.
 */
export function withGitHubProxy(Octokit: typeof ProbotOctokit | undefined, env: NodeJS.ProcessEnv = process.env): typeof ProbotOctokit | undefined {
  const fetcher = proxyAwareFetch(env);
  if (!fetcher) return Octokit;
  return (Octokit ?? ProbotOctokit).defaults((options: Record<string, unknown>) => ({
    ...options,
    request: { ...(options["request"] as object | undefined), fetch: fetcher },
  }));
}
