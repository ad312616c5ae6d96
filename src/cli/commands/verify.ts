import { readFile } from "node:fs/promises";
import { errorLine } from "../../errors/error-line.js";
import { formatReference } from "../../reference/format.js";
import { parseReference } from "../../reference/parse.js";
import { signerProblems, type SignerRule, type VerifySettings } from "../../verify/rules.js";
import { createSignatureSource } from "../../verify/source.js";
import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";
import { loadVerifySettings } from "../verify-settings.js";
import { verdictLine } from "../verdict.js";

export interface VerifyOptions {
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateIdentityRegexp?: string;
  readonly certificateOidcIssuer?: string;
  readonly certificateOidcIssuerRegexp?: string;
  readonly verifyConfig?: string;
  readonly trustedRoot?: string;
  readonly json?: boolean;
}

/**
 * `digesta verify IMAGE@DIGEST` with `--key FILE`, a keyless identity and issuer, or `--verify-config FILE`: exit 0
 * verified, 1 not verified (unsigned or invalid), 2 could not check.
 */
export async function verifyCommand(context: CliContext, image: string, options: VerifyOptions): Promise<number> {
  const ref = parseReference(image);
  if (!ref.digest) throw new UsageError(`"${image}" has no digest; give IMAGE@sha256:… (verify what you deploy, not a tag)`);
  const settings = await settingsFrom(options);
  for (const problem of settings.images.flatMap(signerProblems)) throw new UsageError(`${flagOf(problem.field, options)}: ${problem.message}`);
  const source = createSignatureSource(context.registry, settings, options.trustedRoot ? { trustedRoot: options.trustedRoot } : {});
  const shown = formatReference(ref);
  const verdict = (await source?.verdictOf(ref, ref.digest)) ?? {
    status: "error" as const,
    reason: `no entry of --verify-config ${JSON.stringify(options.verifyConfig)} matches ${formatReference({ ...ref, tag: undefined, digest: undefined })}`,
  };
  if (options.json) writeJson(context, { reference: shown, ...verdict });
  else context.stdout.write(`${verdictLine(verdict, shown)}\n`);
  return verdict.status === "verified" ? ExitCode.Ok : verdict.status === "error" ? ExitCode.Error : ExitCode.Stale;
}

/** The one signer the flags name, or the rules of `--verify-config`. */
async function settingsFrom(options: VerifyOptions): Promise<VerifySettings> {
  const keyless = [options.certificateIdentity, options.certificateIdentityRegexp, options.certificateOidcIssuer, options.certificateOidcIssuerRegexp].some(
    (flag) => flag !== undefined,
  );
  const given = [options.key !== undefined, keyless, options.verifyConfig !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new UsageError(
      "say who must have signed: --key FILE, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp], or --verify-config FILE (one of them)",
    );
  }
  if (options.verifyConfig !== undefined) return loadVerifySettings(options.verifyConfig);
  let rule: SignerRule;
  if (options.key !== undefined) {
    let pem: string;
    try {
      pem = await readFile(options.key, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read --key ${JSON.stringify(options.key)}: ${errorLine(error)}`);
    }
    rule = { match: "**", key: pem };
  } else {
    rule = {
      match: "**",
      ...(options.certificateIdentity !== undefined ? { identity: options.certificateIdentity } : {}),
      ...(options.certificateIdentityRegexp !== undefined ? { identityRegexp: options.certificateIdentityRegexp } : {}),
      ...(options.certificateOidcIssuer !== undefined ? { issuer: options.certificateOidcIssuer } : {}),
      ...(options.certificateOidcIssuerRegexp !== undefined ? { issuerRegexp: options.certificateOidcIssuerRegexp } : {}),
    };
  }
  return { required: true, images: [rule] };
}

const FLAGS: Record<keyof SignerRule, string> = {
  match: "--key or --certificate-identity",
  key: "--key",
  identity: "--certificate-identity",
  identityRegexp: "--certificate-identity-regexp",
  issuer: "--certificate-oidc-issuer",
  issuerRegexp: "--certificate-oidc-issuer-regexp",
};

function flagOf(field: keyof SignerRule, options: VerifyOptions): string {
  return field === "key" && options.key ? `--key ${JSON.stringify(options.key)}` : FLAGS[field];
}
