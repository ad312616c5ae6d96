import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import type { z } from "zod";
import { errorLine } from "../errors/error-line.js";

/** One thing wrong with a configuration, located as precisely as the source allows. */
export interface ConfigProblem {
  /** `owner/repo:.github/digesta.yml`, where known. */
  readonly file?: string;
  /** 1-based line in that file. */
  readonly line?: number;
  /** `paths.include[2]`, when the problem is in one field. */
  readonly field?: string;
  readonly message: string;
}

/** A configuration file's text, for locating problems in it. */
export interface ConfigSource {
  readonly file: string;
  readonly text: string;
}

/**
 * Turns zod's issues into problems, each placed on the line of the first source (the repository's own file first,
 * then the files it extends) that holds the field; a missing field is placed on its closest parent.
 */
export function problemsFromZod(error: z.ZodError, sources: readonly ConfigSource[]): ConfigProblem[] {
  const documents = sources.map((source) => {
    const lineCounter = new LineCounter();
    return { file: source.file, lineCounter, document: parseDocument(source.text, { lineCounter }) };
  });
  return error.issues.map((issue) => {
    const path = issue.path.map((segment) => (typeof segment === "symbol" ? String(segment) : segment));
    // An unknown key is reported on its parent; point at the key itself.
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const fieldPath = keys.length === 1 ? [...path, keys[0]!] : path;
    const field = formatPath(fieldPath);
    // The file holding the most of the field's path; the repository's own file wins a tie.
    let best: { file: string; line: number; depth: number } | undefined;
    for (const { file, lineCounter, document } of documents) {
      const found = locate(document.contents, fieldPath);
      if (found && (!best || found.depth > best.depth)) best = { file, line: lineCounter.linePos(found.offset).line, depth: found.depth };
    }
    if (best) return clean({ file: best.file, line: best.line, field, message: issue.message });
    return clean({ file: sources[0]?.file, field, message: issue.message });
  });
}

/** A YAML syntax error (from the `yaml` library, possibly wrapped by Probot's config loader) as one problem. */
export function problemFromYamlError(error: unknown, file: string | undefined): ConfigProblem | undefined {
  const cause = findYamlError(error);
  if (!cause) return undefined;
  const line = cause.linePos?.[0]?.line;
  const message = errorLine(cause).replace(/ at line \d+, column \d+:?$/, "");
  return clean({ file, line, message: `invalid YAML: ${message}` });
}

function findYamlError(error: unknown): { message: string; linePos?: { line: number }[] } | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof Error && (current.name === "YAMLParseError" || current.name === "YAMLWarning")) {
      return current as Error & { linePos?: { line: number }[] };
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

/** `paths.include[2]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out;
}

/** The offset of the deepest node of `path` in the document (a map key's own position for map entries). */
function locate(node: unknown, path: readonly (string | number)[]): { offset: number; depth: number } | undefined {
  let current = node as Node | null | undefined;
  let found: { offset: number; depth: number } | undefined =
    current && "range" in current && current.range ? { offset: current.range[0], depth: 0 } : undefined;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth]!;
    if (isMap(current)) {
      const pair = current.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return found;
      const key = pair.key as Node;
      if (key.range) found = { offset: key.range[0], depth: depth + 1 };
      current = pair.value as Node | null;
    } else if (isSeq(current) && typeof segment === "number") {
      const item = current.items[segment] as Node | undefined;
      if (!item) return found;
      if (item.range) found = { offset: item.range[0], depth: depth + 1 };
      current = item;
    } else {
      return found;
    }
  }
  return found;
}

function clean(problem: { file?: string | undefined; line?: number | undefined; field?: string | undefined; message: string }): ConfigProblem {
  return {
    ...(problem.file !== undefined ? { file: problem.file } : {}),
    ...(problem.line !== undefined ? { line: problem.line } : {}),
    ...(problem.field ? { field: problem.field } : {}),
    message: problem.message,
  };
}
