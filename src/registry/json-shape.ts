// Checks on the shape of JSON a registry, a token service or a credential helper sent: a few small readers instead
// of a schema library, whose hundred modules cost a short command (`digesta resolve`) more than its requests.

/** A value that does not have the expected shape; `path` says where (`manifests.0.digest`). */
export class ShapeError extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    readonly problem: string,
  ) {
    super(path.length > 0 ? `${path.join(".")}: ${problem}` : problem);
  }
}

export type JsonObject = Readonly<Record<string, unknown>>;

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function object(value: unknown, path: readonly (string | number)[] = []): JsonObject {
  if (!isJsonObject(value)) throw new ShapeError(path, `expected an object, got ${kind(value)}`);
  return value;
}

export function string(value: unknown, path: readonly (string | number)[], maxLength = Infinity): string {
  if (typeof value !== "string") throw new ShapeError(path, `expected a string, got ${kind(value)}`);
  if (value.length > maxLength) throw new ShapeError(path, `longer than ${maxLength} characters`);
  return value;
}

export function optionalString(value: unknown, path: readonly (string | number)[], maxLength = Infinity): string | undefined {
  return value === undefined ? undefined : string(value, path, maxLength);
}

export function count(value: unknown, path: readonly (string | number)[]): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ShapeError(path, `expected a whole number of at least 0, got ${typeof value === "number" ? value : kind(value)}`);
  }
  return value;
}

export function array(value: unknown, path: readonly (string | number)[], maxItems: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(path, `expected an array, got ${kind(value)}`);
  if (value.length > maxItems) throw new ShapeError(path, `more than ${maxItems} entries`);
  return value;
}

/** An object of strings (annotations, credHelpers), copied without its prototype's help (`__proto__` is just a key). */
export function stringRecord(value: unknown, path: readonly (string | number)[]): Record<string, string> {
  const entries = Object.entries(object(value, path));
  for (const [key, entry] of entries) string(entry, [...path, key]);
  return Object.fromEntries(entries) as Record<string, string>;
}

/** `read(value)`, or `fallback` when the value does not have the shape: for fields a bad value of which is ignored. */
export function orElse<T, F>(read: () => T, fallback: F): T | F {
  try {
    return read();
  } catch (error) {
    if (error instanceof ShapeError) return fallback;
    throw error;
  }
}
