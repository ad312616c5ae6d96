/** A parsed Package URL (https://github.com/package-url/purl-spec), components percent-decoded. */
export interface Purl {
  readonly type: string;
  readonly namespace?: string;
  readonly name: string;
  readonly version?: string;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath?: string;
}

/** Parses a purl; undefined when `s` is not one. */
export function parsePurl(s: string): Purl | undefined {
  void s;
  throw new Error("parsePurl: not implemented yet");
}

/** Formats a purl, percent-encoding each component. */
export function formatPurl(purl: Omit<Purl, "qualifiers"> & { readonly qualifiers?: Readonly<Record<string, string>> }): string {
  void purl;
  throw new Error("formatPurl: not implemented yet");
}
