/** Quotes hostile text for a one-line message: escaped, and cut short so a huge input cannot flood a log. */
export function quoteInput(text: string, max = 100): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}

/** Text that is not a valid image reference, name or digest; the message says what is wrong with it. */
export class InvalidReferenceError extends Error {
  override readonly name = "InvalidReferenceError";
  constructor(
    readonly input: string,
    readonly reason: string,
    kind: "reference" | "digest" | "image name" = "reference",
  ) {
    super(`invalid ${kind} ${quoteInput(input)}: ${reason}`);
  }
}
