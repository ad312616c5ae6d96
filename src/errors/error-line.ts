/**
 * The first line of an error's message (stack traces and wrapped causes left out), trimmed, at most `maxChars`
 * long: what a one-line report, warning or pin failure says of an error.
 */
export function errorLine(error: unknown, maxChars = Infinity): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = (message.split("\n", 1)[0] ?? "").trim() || "unknown error";
  return line.length > maxChars ? line.slice(0, maxChars) : line;
}
