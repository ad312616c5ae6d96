import { VulnerabilitySourceError } from "./source.js";

// Which OSV service to ask, apart from the client that asks it: the command line checks the setting for every
// command and loads the client only for those that look vulnerabilities up.

/** The public OSV service, used unless `DIGESTA_OSV_URL` or `--osv-url` says otherwise (`off` disables lookups). */
export const PUBLIC_OSV_URL = "https://api.osv.dev";

/** Where lookups go, from the CLI option first, then `DIGESTA_OSV_URL`; undefined when turned `off`. */
export function osvUrlFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = (option ?? env["DIGESTA_OSV_URL"] ?? PUBLIC_OSV_URL).trim();
  if (value === "" || value.toLowerCase() === "off") return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new VulnerabilitySourceError(`the OSV URL "${value}" is not a URL; give one such as ${PUBLIC_OSV_URL}, or "off"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new VulnerabilitySourceError(`the OSV URL must be http(s), not ${url.protocol.replace(/:$/, "")}:`);
  }
  return url.href.replace(/\/+$/, "");
}
