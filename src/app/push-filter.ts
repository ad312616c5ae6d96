import { CONFIG_PATH } from "../config/schema.js";

/** A changed file of a push, as GitHub's compare API lists it (`patch` is missing for large or binary files). */
export interface ChangedFile {
  readonly filename: string;
  readonly previous_filename?: string;
  readonly patch?: string;
}

const PIN_LINE = /^[+-](?![+-]{2} ).*@sha256:[0-9a-fA-F]{8}/m;

/**
 * Whether a push to the default branch may have changed a pinned reference or digesta's configuration, from the
 * compare API's files: a changed config file, or an added or removed line with `@sha256:`. When GitHub did not send
 * everything (a file without a patch, a truncated list), it says yes: a needless run costs less than a missed one.
 */
export function pushMayTouchPins(files: readonly ChangedFile[], complete: boolean): boolean {
  if (!complete) return true;
  return files.some(
    (file) =>
      file.filename === CONFIG_PATH ||
      file.previous_filename === CONFIG_PATH ||
      file.patch === undefined ||
      PIN_LINE.test(file.patch),
  );
}
