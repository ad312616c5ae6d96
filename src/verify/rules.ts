import { createContext, Script, type Context } from "node:vm";
import picomatch from "picomatch";
import type { ImageName } from "../reference/types.js";
import { loadVerificationKey, type VerificationKey } from "./keys.js";

/** An identity pattern longer than this is not a real one (and a long pattern is a slow one). */
export const MAX_PATTERN = 512;
/** Certificate identities are URIs and e-mail addresses; a longer one is refused before any pattern runs on it. */
export const MAX_IDENTITY_LENGTH = 2048;

/**
 * One `verify.images` entry: images whose normalised name matches `match` must carry a signature by `key` (PEM), or a
 * keyless signature whose certificate names `identity` (or matches `identityRegexp`, unanchored as cosign's
 * `--certificate-identity-regexp`) and was issued for a token from `issuer` (or one matching `issuerRegexp`, as
 * cosign's `--certificate-oidc-issuer-regexp`).
 */
export interface SignerRule {
  readonly match: string;
  readonly key?: string;
  readonly identity?: string;
  readonly identityRegexp?: string;
  readonly issuer?: string;
  readonly issuerRegexp?: string;
}

export interface VerifySettings {
  /** A digest that does not verify is held back (listed under "Held back") instead of proposed. */
  readonly required: boolean;
  /** First match wins. */
  readonly images: readonly SignerRule[];
}

/** Who must have signed an image. */
export type SignerCheck =
  | { readonly kind: "key"; readonly key: VerificationKey }
  | { readonly kind: "keyless"; readonly identity: string | RegExp; readonly issuer: string | RegExp };

export interface CompiledRule {
  readonly match: string;
  readonly check: SignerCheck;
  matches(name: ImageName): boolean;
}

/** What is wrong with a signer rule (none when it is usable), each with the field it is about. */
export function signerProblems(rule: SignerRule): { message: string; field: keyof SignerRule }[] {
  const problems: { message: string; field: keyof SignerRule }[] = [];
  const keyless = rule.identity !== undefined || rule.identityRegexp !== undefined;
  const issuer = rule.issuer !== undefined || rule.issuerRegexp !== undefined;
  if (rule.key !== undefined && (keyless || issuer)) {
    problems.push({ message: "give either `key` or `identity`/`identityRegexp` with `issuer`, not both", field: "key" });
  } else if (rule.key !== undefined) {
    try {
      loadVerificationKey(rule.key, "key");
    } catch (error) {
      problems.push({ message: `${(error as Error).message}; give the PEM text of a public key`, field: "key" });
    }
  } else if (!keyless) {
    problems.push({ message: "say who signs: `key` (a PEM public key), or `identity` or `identityRegexp` with `issuer`", field: "match" });
  } else {
    if (rule.identity !== undefined && rule.identityRegexp !== undefined) problems.push({ message: "give `identity` or `identityRegexp`, not both", field: "identityRegexp" });
    if (!issuer) problems.push({ message: "a keyless signer needs `issuer`, e.g. https://token.actions.githubusercontent.com", field: "issuer" });
    if (rule.issuer !== undefined && rule.issuerRegexp !== undefined) problems.push({ message: "give `issuer` or `issuerRegexp`, not both", field: "issuerRegexp" });
    for (const field of ["identityRegexp", "issuerRegexp"] as const) {
      const pattern = rule[field];
      if (pattern === undefined) continue;
      try {
        new RegExp(pattern, "u");
      } catch (error) {
        problems.push({ message: `not a regular expression: ${(error as Error).message}`, field });
      }
    }
  }
  return problems;
}

/** The rules of a validated configuration, ready to match images. */
export function compileRules(rules: readonly SignerRule[]): CompiledRule[] {
  return rules.map((rule) => {
    const test = picomatch(rule.match, { dot: true });
    const check: SignerCheck =
      rule.key !== undefined
        ? { kind: "key", key: loadVerificationKey(rule.key, `the key for ${rule.match}`) }
        : {
            kind: "keyless",
            identity: rule.identity ?? new RegExp(rule.identityRegexp!, "u"),
            issuer: rule.issuer ?? new RegExp(rule.issuerRegexp!, "u"),
          };
    return { match: rule.match, check, matches: (name) => test(`${name.registry}/${name.repository}`) };
  });
}

/** The first rule matching `name`, if any: an image no rule names is not checked. */
export function ruleFor(rules: readonly CompiledRule[], name: ImageName): CompiledRule | undefined {
  return rules.find((rule) => rule.matches(name));
}

/** How long one identity pattern may run on one identity before the check gives up on it. */
export const PATTERN_BUDGET_MS = 1000;

let patternSandbox: { readonly context: Context; readonly script: Script } | undefined;

/**
 * Whether a certificate's identity is the one a rule asks for. A pattern comes from a repository's configuration and
 * an identity from whoever got a certificate, so a backtracking pattern could hold the process for as long as a
 * signer likes: it runs under a watchdog, and a run past the budget is "too-slow", never a match.
 */
export function identityMatches(expected: string | RegExp, actual: string | undefined): boolean | "too-slow" {
  if (actual === undefined || actual.length > MAX_IDENTITY_LENGTH) return false;
  if (typeof expected === "string") return expected === actual;
  patternSandbox ??= { context: createContext({}), script: new Script("new RegExp(source, flags).test(actual)") };
  Object.assign(patternSandbox.context, { source: expected.source, flags: expected.flags, actual });
  try {
    return patternSandbox.script.runInContext(patternSandbox.context, { timeout: PATTERN_BUDGET_MS }) === true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return "too-slow";
    throw error;
  }
}

/** How a check reads in a verdict: `key SHA256:…`, or `identity X (issuer Y)`. */
export function describeCheck(check: SignerCheck): string {
  if (check.kind === "key") return `key ${check.key.fingerprint}`;
  const shown = (value: string | RegExp) => (typeof value === "string" ? value : `/${value.source}/`);
  return `identity ${shown(check.identity)} (issuer ${shown(check.issuer)})`;
}
