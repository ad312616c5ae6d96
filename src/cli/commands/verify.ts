import { readFile } from "node:fs/promises";
import { errorLine } from "../../errors/error-line.js";
import { formatReference } from "../../reference/format.js";
import { parseReference } from "../../reference/parse.js";
import { loadVerificationKey } from "../../verify/keys.js";
import { verifyImage } from "../../verify/registry.js";
import type { CliContext } from "../context.js";
import { writeJson } from "../context.js";
import { ExitCode, UsageError } from "../errors.js";

export interface VerifyOptions {
  readonly key?: string;
  readonly json?: boolean;
}

/** `digesta verify IMAGE@DIGEST --key FILE`: exit 0 verified, 1 not verified (unsigned or invalid), 2 could not check. */
export async function verifyCommand(context: CliContext, image: string, options: VerifyOptions): Promise<number> {
  const ref = parseReference(image);
  if (!ref.digest) throw new UsageError(`"${image}" has no digest; give IMAGE@sha256:… (verify what you deploy, not a tag)`);
  if (!options.key) throw new UsageError("give the signer's public key with --key FILE (PEM: ECDSA, RSA or Ed25519)");
  let pem: string;
  try {
    pem = await readFile(options.key, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --key ${JSON.stringify(options.key)}: ${errorLine(error)}`);
  }
  const key = loadVerificationKey(pem, `--key ${JSON.stringify(options.key)}`);
  const shown = formatReference(ref);
  let verdict;
  try {
    verdict = await verifyImage(context.registry, ref, ref.digest, key);
  } catch (error) {
    const reason = errorLine(error);
    if (options.json) writeJson(context, { reference: shown, status: "error", reason });
    else context.stdout.write(`could not check\t${shown}\t${reason}\n`);
    return ExitCode.Error;
  }
  if (options.json) {
    writeJson(context, { reference: shown, ...verdict });
  } else if (verdict.status === "verified") {
    context.stdout.write(`verified\t${shown}\tby ${verdict.by}${verdict.dockerReference ? `\tsigned as ${verdict.dockerReference}` : ""}\n`);
  } else {
    context.stdout.write(`${verdict.status === "not-signed" ? "not signed" : "signature invalid"}\t${shown}\t${verdict.reason}\n`);
  }
  return verdict.status === "verified" ? ExitCode.Ok : ExitCode.Stale;
}
