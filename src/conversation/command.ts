import { analyseReference } from "../reference/parse.js";
import type { Digest, ImageReference, PinnedReference } from "../reference/types.js";

/** What the first line of a comment asks digesta to do. */
export type Command =
  | { readonly kind: "refresh" }
  | { readonly kind: "help" }
  /** `IMAGE@OLD IMAGE@NEW`, or `IMAGE:TAG@OLD` against what the tag points to now (`to` absent). */
  | { readonly kind: "diff"; readonly from: ImageReference & { readonly digest: Digest }; readonly to?: Digest }
  /** A `/digesta` line that is not a command digesta knows, or a command written wrong: `problem` says how. */
  | { readonly kind: "invalid"; readonly problem: string };

const PREFIX = /^\/digesta(?=\s|$)/i;
/** A first line longer than this is not a command anyone typed. */
const MAX_LINE = 1_000;

/**
 * The command on the first line of a comment, or undefined when the comment is not addressed to digesta. The
 * command word is read in any case of letters; references are read as written.
 */
export function parseCommand(body: string): Command | undefined {
  const line = (body.split(/\r?\n/, 1)[0] ?? "").trim();
  if (!PREFIX.test(line)) return undefined;
  if (line.length > MAX_LINE) return { kind: "invalid", problem: "the command line is too long" };
  const [word = "", ...args] = line.slice("/digesta".length).trim().split(/\s+/).filter(Boolean);
  switch (word.toLowerCase()) {
    case "refresh":
      return args.length === 0 ? { kind: "refresh" } : { kind: "invalid", problem: "`refresh` takes no arguments" };
    case "help":
    case "":
      return { kind: "help" };
    case "diff":
      return parseDiff(args);
    default:
      return { kind: "invalid", problem: `unknown command \`${word.slice(0, 40)}\`` };
  }
}

function parseDiff(args: readonly string[]): Command {
  if (args.length === 0 || args.length > 2) {
    return { kind: "invalid", problem: "`diff` takes `IMAGE@OLD IMAGE@NEW`, or `IMAGE:TAG@OLD` to compare with what the tag points to now" };
  }
  const from = analyseReference(args[0]!);
  if (typeof from === "string") return { kind: "invalid", problem: `\`${args[0]!.slice(0, 300)}\` is not an image reference: ${from}` };
  if (!from.digest) return { kind: "invalid", problem: `\`${args[0]}\` has no digest: write \`IMAGE@sha256:…\` or \`IMAGE:TAG@sha256:…\`` };
  if (args.length === 1) {
    if (from.tag === undefined) return { kind: "invalid", problem: `\`${args[0]}\` has no tag to compare with: write \`IMAGE:TAG@OLD\`, or give two digests` };
    return { kind: "diff", from: from as PinnedReference };
  }
  const to = analyseReference(args[1]!);
  if (typeof to === "string") return { kind: "invalid", problem: `\`${args[1]!.slice(0, 300)}\` is not an image reference: ${to}` };
  if (!to.digest) return { kind: "invalid", problem: `\`${args[1]}\` has no digest: write \`IMAGE@sha256:…\`` };
  if (to.registry !== from.registry || to.repository !== from.repository) {
    return { kind: "invalid", problem: `both references must name the same image (\`${from.registry}/${from.repository}\` and \`${to.registry}/${to.repository}\`)` };
  }
  return { kind: "diff", from: { ...from, digest: from.digest }, to: to.digest };
}

/** The reply to `/digesta help`, and to a command digesta does not know. */
export const HELP_TEXT = [
  "**digesta commands** (first line of a comment; people with write access to the repository):",
  "",
  "- `/digesta refresh`: on a digesta pull request, check its tags again now and update it; anywhere else, a full run for this repository.",
  "- `/digesta diff IMAGE@OLD IMAGE@NEW`: the package changes between two digests of one image.",
  "- `/digesta diff IMAGE:TAG@OLD`: the package changes from that digest to what the tag points to now.",
  "- `/digesta help`: this list.",
].join("\n");
