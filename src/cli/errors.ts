/** A problem with what the user asked for; the CLI prints its message on one line (then any details, one per line) and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

export const ExitCode = {
  Ok: 0,
  /** `check`: some pin is stale. */
  Stale: 1,
  /** Bad input, or some images could not be checked or some files not written. */
  Error: 2,
} as const;
