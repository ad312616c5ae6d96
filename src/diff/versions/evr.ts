/** A version split as dpkg and rpm both split it: `[epoch:]version[-release]`. */
export interface EpochVersionRelease {
  /** Digits; "0" when absent. */
  readonly epoch: string;
  readonly version: string;
  /** After the last hyphen; "" when absent. */
  readonly release: string;
  /** Whether there was a hyphen: rpm ranks a missing release below any present one, even an empty one. */
  readonly hasRelease: boolean;
}

export function splitEpochVersionRelease(v: string): EpochVersionRelease {
  let rest = v.trim();
  let epoch = "0";
  const colon = rest.indexOf(":");
  if (colon > 0 && /^\d+$/.test(rest.slice(0, colon))) {
    epoch = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf("-");
  if (hyphen >= 0) return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1), hasRelease: true };
  return { epoch, version: rest, release: "", hasRelease: false };
}
