import { createRequire } from "node:module";

/** Written in by the CLI's bundle (scripts/build-cli.mjs); undefined when running from tsc's output or the sources. */
declare const __DIGESTA_VERSION__: string | undefined;

/** The version in package.json (one level above both src/ and dist/). */
export const VERSION: string =
  typeof __DIGESTA_VERSION__ === "string" ? __DIGESTA_VERSION__ : (createRequire(import.meta.url)("../package.json") as { version: string }).version;
