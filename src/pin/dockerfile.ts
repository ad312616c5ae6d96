import { lines, siteOf, type Site } from "./sites.js";

/*
 * Image references in a Dockerfile, where the instruction makes them certain:
 *
 * - `# syntax=IMAGE` among the parser directives at the top of the file;
 * - `FROM [--platform=…] IMAGE [AS name]`, unless IMAGE is `scratch` or an earlier stage's name;
 * - `COPY --from=IMAGE` and `RUN --mount=…,from=IMAGE,…`, unless IMAGE is a stage's name or index;
 * - `ARG NAME=IMAGE` when a `FROM $NAME` or `FROM ${NAME}` uses NAME as its whole image.
 *
 * Instructions continue over lines ending with the escape character (`\`, or the backtick the `escape`
 * directive sets); comment lines inside a continuation are skipped, as BuildKit does; heredoc bodies
 * (`<<EOF … EOF`) are not instructions.
 */

interface Token {
  readonly offset: number;
  readonly text: string;
}

interface Instruction {
  readonly keyword: string;
  readonly args: readonly Token[];
}

const DIRECTIVE = /^#[ \t]*([A-Za-z]+)[ \t]*=[ \t]*(\S+)[ \t]*$/;
const HEREDOC = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;
const ARG_VARIABLE = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/;

export function dockerfileSites(text: string): Site[] {
  const sites: Site[] = [];
  const { instructions, syntax } = parseDockerfile(text);
  if (syntax) {
    const site = siteOf(syntax.offset, syntax.text, "dockerfile-syntax");
    if (site) sites.push(site);
  }

  const stages = new Set<string>();
  for (const instruction of instructions) {
    if (instruction.keyword !== "FROM") continue;
    const rest = instruction.args.filter((t) => !t.text.startsWith("--"));
    if (rest.length >= 3 && rest[1]!.text.toLowerCase() === "as") stages.add(rest[2]!.text.toLowerCase());
  }
  const isStage = (name: string) => stages.has(name.toLowerCase()) || /^[0-9]+$/.test(name);

  // Global ARGs (before the first FROM) are the only ones a FROM can see.
  const args = new Map<string, Token>();
  let seenFrom = false;
  const defined = new Set<string>();
  for (const instruction of instructions) {
    const { keyword } = instruction;
    if (keyword === "ARG" && !seenFrom) {
      for (const token of instruction.args) {
        const eq = token.text.indexOf("=");
        if (eq <= 0) continue;
        const raw = token.text.slice(eq + 1);
        const value = unquote(raw);
        args.set(token.text.slice(0, eq), { offset: token.offset + eq + 1 + (value === raw ? 0 : 1), text: value });
      }
    } else if (keyword === "FROM") {
      seenFrom = true;
      const rest = instruction.args.filter((t) => !t.text.startsWith("--"));
      const image = rest[0];
      if (image) {
        const variable = ARG_VARIABLE.exec(image.text);
        const arg = variable ? args.get(variable[1] ?? variable[2]!) : undefined;
        if (arg && arg.text !== "" && !isStage(arg.text)) {
          sites.push({ offset: arg.offset, value: arg.text, syntax: "dockerfile-arg" });
        } else if (image.text.toLowerCase() !== "scratch" && !defined.has(image.text.toLowerCase())) {
          sites.push({ offset: image.offset, value: image.text, syntax: "dockerfile-from" });
        }
      }
      if (rest.length >= 3 && rest[1]!.text.toLowerCase() === "as") defined.add(rest[2]!.text.toLowerCase());
    } else if (keyword === "COPY") {
      for (const token of instruction.args) {
        if (!token.text.startsWith("--")) break;
        if (token.text.toLowerCase().startsWith("--from=")) {
          const value = token.text.slice(7);
          if (!isStage(value)) sites.push({ offset: token.offset + 7, value, syntax: "dockerfile-copy-from" });
        }
      }
    } else if (keyword === "RUN") {
      for (const token of instruction.args) {
        if (!token.text.startsWith("--")) break;
        if (!token.text.toLowerCase().startsWith("--mount=")) continue;
        let at = 8;
        for (const part of token.text.slice(8).split(",")) {
          if (part.toLowerCase().startsWith("from=")) {
            const value = part.slice(5);
            if (value !== "" && !isStage(value)) sites.push({ offset: token.offset + at + 5, value, syntax: "dockerfile-mount-from" });
          }
          at += part.length + 1;
        }
      }
    }
  }
  return sites;
}

/** `"x"` or `'x'` → `x`; anything else as it is. */
function unquote(value: string): string {
  const first = value[0];
  return value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first) ? value.slice(1, -1) : value;
}

/** Splits the file into instructions (continuations joined, tokens keeping their offsets) and reads the syntax directive. */
function parseDockerfile(text: string): { instructions: Instruction[]; syntax?: Token } {
  const instructions: Instruction[] = [];
  let escape = "\\";
  let syntax: Token | undefined;
  let inDirectives = true;
  let current: Token[] | undefined;
  const heredocs: { word: string; strip: boolean }[] = [];

  for (const { start, line } of lines(text)) {
    if (heredocs.length > 0) {
      const { word, strip } = heredocs[0]!;
      if ((strip ? line.replace(/^\t+/, "") : line) === word) heredocs.shift();
      continue;
    }
    if (inDirectives) {
      const directive = DIRECTIVE.exec(line);
      if (directive) {
        const name = directive[1]!.toLowerCase();
        if (name === "escape" && (directive[2] === "`" || directive[2] === "\\")) escape = directive[2]!;
        if (name === "syntax") syntax = { offset: start + line.indexOf(directive[2]!, line.indexOf("=")), text: directive[2]! };
        continue;
      }
      inDirectives = false;
    }
    const trimmed = line.trimStart();
    if (trimmed.startsWith("#")) continue;
    if (current === undefined && trimmed === "") continue;

    let body = line.trimEnd();
    const continues = body.endsWith(escape);
    if (continues) body = body.slice(0, -1);
    const tokens = current ?? [];
    for (const match of body.matchAll(/\S+/g)) tokens.push({ offset: start + match.index, text: match[0] });
    if (continues) {
      current = tokens;
      continue;
    }
    current = undefined;
    const [keyword, ...args] = tokens;
    if (!keyword) continue;
    instructions.push({ keyword: keyword.text.toUpperCase(), args });
    if (keyword.text.toUpperCase() === "RUN" || keyword.text.toUpperCase() === "COPY" || keyword.text.toUpperCase() === "ADD") {
      for (const token of args) {
        for (const heredoc of token.text.matchAll(HEREDOC)) heredocs.push({ word: heredoc[3]!, strip: heredoc[1] === "-" });
      }
    }
  }
  if (current?.length) instructions.push({ keyword: current[0]!.text.toUpperCase(), args: current.slice(1) });
  return syntax ? { instructions, syntax } : { instructions };
}
