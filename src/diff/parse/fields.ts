/** Names and versions longer than this are junk or hostile, never a real package. */
export const MAX_FIELD_LENGTH = 512;

/** A package name or version as found in a database: trimmed, one line, bounded; undefined when unusable. */
export function cleanField(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "" || v.length > MAX_FIELD_LENGTH || /[\s\u0000-\u001f\u007f]/.test(v)) return undefined;
  return v;
}
