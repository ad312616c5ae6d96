import { readFile } from "node:fs/promises";
import { formatConfigProblem } from "../config/local-file.js";
import { errorLine } from "../errors/error-line.js";
import type { Registry } from "../registry/types.js";
import type { VerifySettings } from "../verify/rules.js";
import { createSignatureSource, type SignatureSource } from "../verify/source.js";
import { UsageError } from "./errors.js";

/** No signature policy is this long. */
const MAX_BYTES = 256 * 1024;

/**
 * `--verify-config FILE`: the `verify:` settings on their own (`required`, `images`), or a whole configuration file
 * whose `verify:` is used; they replace the checkout's own. Invalid settings stop the run with file and line.
 */
export async function loadVerifySettings(file: string): Promise<VerifySettings> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --verify-config ${JSON.stringify(file)}: ${errorLine(error)}`);
  }
  if (text.length > MAX_BYTES) throw new UsageError(`--verify-config ${JSON.stringify(file)} is larger than ${MAX_BYTES / 1024} KiB`);
  const [{ parse }, { verifySettingsSchema }, { problemFromYamlError, problemsFromZod }] = await Promise.all([
    import("yaml"),
    import("../verify/rules-schema.js"),
    import("../config/problems.js"),
  ]);
  let value: unknown;
  try {
    value = parse(text, { prettyErrors: true, maxAliasCount: 100 });
  } catch (error) {
    const problem = problemFromYamlError(error, file) ?? { file, message: `invalid YAML: ${errorLine(error)}` };
    throw new UsageError("the --verify-config file is not valid:", [formatConfigProblem(problem)]);
  }
  const whole = value !== null && typeof value === "object" && !Array.isArray(value) && "verify" in value;
  const parsed = verifySettingsSchema.safeParse(whole ? (value as { verify: unknown }).verify : (value ?? {}));
  if (!parsed.success) {
    // Problems are located in the file through the path they have in it.
    const problems = problemsFromZod(whole ? prefixed(parsed.error) : parsed.error, [{ file, text }]);
    throw new UsageError("the --verify-config file is not valid:", problems.map(formatConfigProblem));
  }
  return parsed.data;
}

function prefixed<E extends { issues: { path: PropertyKey[] }[] }>(error: E): E {
  for (const issue of error.issues) issue.path = ["verify", ...issue.path];
  return error;
}

/** The flags that choose the signature rules of `update`, `check` and `pin`. */
export interface VerifyFlags {
  /** The `verify:` settings to use instead of the configuration's. */
  readonly verifyConfig?: string;
  /** A Sigstore trusted root for keyless signatures instead of the public-good one. */
  readonly trustedRoot?: string;
}

/**
 * The signature checks a command makes on what it proposes: the rules of `--verify-config`, else the configuration's
 * `verify:`; no source when they name no image.
 */
export async function signatureRules(
  registry: Registry,
  configured: VerifySettings,
  flags: VerifyFlags,
): Promise<{ readonly source?: SignatureSource; readonly required: boolean }> {
  const settings = flags.verifyConfig ? await loadVerifySettings(flags.verifyConfig) : configured;
  const source = createSignatureSource(registry, settings, flags.trustedRoot ? { trustedRoot: flags.trustedRoot } : {});
  return { ...(source ? { source } : {}), required: settings.required };
}
