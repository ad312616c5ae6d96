import { lines, type Site } from "./sites.js";

/*
 * `image` keys in JSON (devcontainer.json, ECS task definitions, Compose as JSON) and Terraform/HCL
 * (`image = "…"` in kubernetes_deployment, ECS container definitions in jsonencode, docker_container),
 * and `--image=IMAGE`-style flags in shell (`kubectl run --image=…`, `gcloud run deploy --image …`,
 * `pack build --builder-image=…`): any flag whose name ends in `image`.
 */

const JSON_IMAGE = /"image"[ \t]*:[ \t]*"([^"\\\n]*)"/g;
const HCL_IMAGE = /(?:^|[\s{,])image[ \t]*=[ \t]*"([^"\\\n]*)"/g;
/** A bare shell word: up to a blank or an operator, `$(…)` and `${…}` kept whole. */
const UNQUOTED_VALUE = /^(?:\$\([^)\s]*\)|\$\{[^}\s]*\}|[^\s;&|)"'`])*/;
const SHELL_FLAG = /(?:^|[\s"'`(])--(?:[a-z0-9]+-)*image(?:=|[ \t]+)/g;

export function jsonSites(text: string): Site[] {
  return quotedSites(text, JSON_IMAGE, "json-image");
}

export function hclSites(text: string): Site[] {
  const sites: Site[] = [];
  for (const { start, line } of lines(text)) {
    if (/^\s*(#|\/\/)/.test(line)) continue;
    for (const match of line.matchAll(HCL_IMAGE)) {
      sites.push({ offset: start + match.index + match[0].length - match[1]!.length - 1, value: match[1]!, syntax: "hcl-image" });
    }
  }
  return sites;
}

function quotedSites(text: string, pattern: RegExp, syntax: Site["syntax"]): Site[] {
  const sites: Site[] = [];
  for (const match of text.matchAll(pattern)) {
    sites.push({ offset: match.index + match[0].length - match[1]!.length - 1, value: match[1]!, syntax });
  }
  return sites;
}

/** `--image=VALUE`, `--image VALUE`, `--image="VALUE"`, `--base-image 'VALUE'`; comment lines are skipped. */
export function shellFlagSites(text: string): Site[] {
  const sites: Site[] = [];
  for (const { start, line } of lines(text)) {
    if (/^\s*#/.test(line)) continue;
    for (const match of line.matchAll(SHELL_FLAG)) {
      const at = match.index + match[0].length;
      const quote = line[at];
      let value: string;
      let offset = at;
      if (quote === '"' || quote === "'") {
        const close = line.indexOf(quote, at + 1);
        if (close < 0) continue;
        value = line.slice(at + 1, close);
        offset = at + 1;
      } else {
        value = UNQUOTED_VALUE.exec(line.slice(at))![0];
        // `--image -x` or `--image \`: the flag has no value on this line.
        if (value === "" || value.startsWith("-") || value === "\\") continue;
      }
      sites.push({ offset: start + offset, value, syntax: "shell-flag" });
    }
  }
  return sites;
}
