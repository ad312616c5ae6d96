import type { Platform } from "../reference/types.js";
import { UsageError } from "./errors.js";

/** `linux/arm64/v8` → { os, architecture, variant }. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, ...rest] = text.split("/");
  if (!os || !architecture || rest.length > 0 || variant === "") {
    throw new UsageError(`--platform "${text}" is not OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}
