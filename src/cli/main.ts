import { Command, CommanderError, Option } from "commander";
import { checkGlobalOptions, createContext, type CliContext, type CliIo, type CliOutput, type GlobalOptions } from "./context.js";
import { createProgress } from "./progress.js";
import { ExitCode, UsageError } from "./errors.js";
import { errorLine } from "../errors/error-line.js";
import { VERSION } from "../version.js";

// Each command's module is loaded when that command runs, so that `--version` or a scan does not load the
// registry client, the package-diff parsers or Probot.
const registryCommands = () => import("./commands/registry.js");
const scanCommands = () => import("./commands/scan.js");
const updateCommands = () => import("./commands/update.js");

const collect = (value: string, previous: string[] = []) => [...previous, value];

type Runner = (action: (context: CliContext) => Promise<number>) => Promise<void>;
/** For commands that only read files and print: no logger, no registry client. */
type LocalRunner = (action: (io: CliOutput) => Promise<number>) => Promise<void>;

function program(run: Runner, runLocal: LocalRunner): Command {
  const cli = new Command("digesta")
    .description("Keep image:tag@sha256 digest pins fresh.")
    .version(VERSION)
    .addOption(
      // DIGESTA_INSECURE_REGISTRIES (comma-separated) is read by the registry client itself.
      new Option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable; also DIGESTA_INSECURE_REGISTRIES)").argParser(
        collect,
      ),
    )
    .addOption(
      new Option(
        "--registry-mirror <registry=host>",
        "read this registry's images from a mirror (REGISTRY=HOST[/PREFIX]; repeatable; also DIGESTA_REGISTRY_MIRRORS); files keep the registry's name",
      ).argParser(collect),
    )
    .addOption(
      new Option("--osv-url <url>", 'OSV-compatible API for the vulnerabilities of changed packages, or "off" (also DIGESTA_OSV_URL; default https://api.osv.dev)'),
    )
    .addOption(new Option("--log-format <format>", "json or text (default: text on a terminal, JSON lines otherwise; also DIGESTA_LOG_FORMAT)"))
    .option("--timeout <seconds>", "longest wait for a registry answer, or between two chunks of a body (also DIGESTA_TIMEOUT; default 30)")
    .option("--deadline <seconds>", "longest time for one registry request, retries and whole body included (also DIGESTA_DEADLINE; default 120)")
    .option("--retries <n>", "retries after a timeout, a broken connection, a 429 or 5xx, or a damaged answer (also DIGESTA_RETRIES; default 3)")
    .showHelpAfterError("(digesta --help lists the commands)")
    .exitOverride();

  const paths = (command: Command) =>
    command
      .option("--include <glob>", "scan only files matching this glob; without a '/', at any depth (repeatable)", collect)
      .option("--exclude <glob>", "skip files and folders matching this glob; without a '/', at any depth (repeatable)", collect)
      .option("--config <file>", "read this configuration instead of DIR/.github/digesta.yml")
      .option("--no-config", "ignore DIR/.github/digesta.yml; use the defaults");
  // The signature rules of what update, check and pin propose.
  const verifyRules = (command: Command) =>
    command
      .option("--verify-config <file>", "signature rules (the verify: settings) to use instead of the configuration's")
      .option("--trusted-root <file>", "Sigstore trusted root JSON for keyless signatures (default: the public-good Sigstore's, shipped with digesta)");

  paths(cli.command("scan").description("list pinned image:tag@sha256 references").argument("[dir]", "directory", "."))
    .option("--json", "print a JSON array")
    .action((dir: string, options) => runLocal(async (io) => (await scanCommands()).scanCommand(io, dir, options)));

  verifyRules(paths(cli.command("update").description("move stale digests to what their tags point to now").argument("[dir]", "directory", ".")))
    .option("--dry-run", "report what would change; write nothing")
    .option("--json", "print the result as JSON")
    .option("--before <time>", "pin each tag to its digest at this time (registries with tag history)")
    .option("--no-diff", "do not show the package diff of each moved image")
    .option("--platform <os/arch>", "platform for the package diff of multi-platform images (default: diff.platform of the configuration, linux/amd64)")
    .option("--concurrency <n>", "unique pins resolved at once")
    .action((dir: string, options) => run(async (context) => (await updateCommands()).updateCommand(context, dir, options)));

  verifyRules(paths(cli.command("check").description("exit 1 when any pin is stale (for CI and pre-commit)").argument("[dir]", "directory", ".")))
    .option("--json", "print the result as JSON")
    .option("--concurrency <n>", "unique pins resolved at once")
    .option("--unpinned", "also exit 1 when a tagged image reference has no digest (see pin)")
    .action((dir: string, options) => run(async (context) => (await updateCommands()).checkCommand(context, dir, options)));

  verifyRules(paths(cli.command("pin").description("append the current digest to tagged image references that have none").argument("[dir]", "directory", ".")))
    .option("--dry-run", "report what would be pinned; write nothing")
    .option("--json", "print the result as JSON")
    .option("--platform <os/arch>", "pin this platform's image instead of a multi-platform tag's index")
    .action((dir: string, options) => run(async (context) => (await import("./commands/pin.js")).pinCommand(context, dir, options)));

  cli
    .command("verify")
    .description("check an image's signature (cosign or Sigstore bundle): exit 0 verified, 1 not verified, 2 could not check")
    .argument("<image>", "IMAGE@sha256:…")
    .option("--key <file>", "the signer's public key (PEM: ECDSA P-256/P-384, RSA, Ed25519)")
    .option("--certificate-identity <identity>", "keyless: the signing certificate's identity (SAN), exactly")
    .option("--certificate-identity-regexp <regexp>", "keyless: a regular expression the certificate's identity matches (unanchored, as cosign)")
    .option("--certificate-oidc-issuer <url>", "keyless: the OIDC issuer of the signer's token, e.g. https://token.actions.githubusercontent.com")
    .option("--certificate-oidc-issuer-regexp <re>", "keyless: a regular expression the OIDC issuer must match (unanchored, as cosign)")
    .option("--verify-config <file>", "the rules of a verify: configuration instead of the flags above")
    .option("--trusted-root <file>", "Sigstore trusted root JSON (default: the public-good Sigstore's, shipped with digesta)")
    .option("--json", "print the verdict as JSON")
    .action((image: string, options) => run(async (context) => (await import("./commands/verify.js")).verifyCommand(context, image, options)));

  cli
    .command("resolve")
    .description("print the digest a tag points to now")
    .argument("<image>", "IMAGE[:TAG] (default tag: latest)")
    .option("--platform <os/arch>", "the digest of this platform's image in the tag's index (as crane digest --platform)")
    .option("--json", "print JSON")
    .action((image: string, options) => run(async (context) => (await registryCommands()).resolveCommand(context, image, options)));

  cli
    .command("ls")
    .description("list a repository's tags")
    .argument("<image>", "IMAGE (a repository, without tag or digest)")
    .option("--json", "print a JSON array")
    .action((image: string, options) => run(async (context) => (await registryCommands()).listCommand(context, image, options)));

  cli
    .command("history")
    .description("print a tag's history (registries that keep one, such as cgr.dev)")
    .argument("<image>", "IMAGE[:TAG]")
    .option("--json", "print JSON")
    .action((image: string, options) => run(async (context) => (await registryCommands()).historyCommand(context, image, options)));

  cli
    .command("diff")
    .description("package diff between two digests of an image")
    .argument("<old>", "IMAGE@sha256:… (or IMAGE:TAG@sha256:… to compare with the tag's current digest)")
    .argument("[new]", "IMAGE@sha256:…")
    .option("--platform <os/arch>", "platform to compare in multi-platform images")
    .option("--json", "print JSON in the shape of Chainguard's image diff API")
    .action((old: string, next: string | undefined, options) => run(async (context) => (await import("./commands/diff.js")).diffCommand(context, old, next, options)));

  cli
    .command("github")
    .description("refresh one GitHub repository as the app does, with GITHUB_TOKEN (for a scheduled workflow)")
    .requiredOption("--repo <owner/name>", "the repository")
    .addOption(new Option("--api-url <url>", "GitHub Enterprise Server API, e.g. https://github.example.com/api/v3").env("GITHUB_API_URL"))
    .option("--json", "print the outcome as JSON")
    .action((options) => run(async (context) => (await import("./commands/github.js")).githubCommand(context, options)));

  return cli;
}

export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  let context: CliContext | undefined;
  const cli = program(
    async (action) => {
      context ??= await createContext(cli.opts<GlobalOptions>(), io);
      exitCode = await action(context);
    },
    async (action) => {
      checkGlobalOptions(cli.opts<GlobalOptions>(), io);
      exitCode = await action({ ...io, progress: createProgress(io.stderr) });
    },
  );
  cli.configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  try {
    await cli.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Error;
    }
    io.stderr.write(`digesta: ${errorLine(error)}\n`);
    for (const detail of error instanceof UsageError ? error.details : []) io.stderr.write(`  ${detail}\n`);
    context?.logger.debug({ err: error }, "command failed");
    return ExitCode.Error;
  }
  return exitCode;
}
