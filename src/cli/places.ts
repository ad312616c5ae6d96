import { displayPath } from "../scan/names.js";

/** `a.yaml:3, Dockerfile:1 and 2 more`: where an image stands, short enough for one line. */
export function placesOf(occurrences: readonly { path: string; line: number }[]): string {
  const shown = occurrences.slice(0, 3).map((o) => `${displayPath(o.path)}:${o.line}`);
  return occurrences.length > 3 ? `${shown.join(", ")} and ${occurrences.length - 3} more` : shown.join(", ");
}
