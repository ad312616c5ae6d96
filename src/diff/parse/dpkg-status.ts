import type { Package } from "../types.js";
import { cleanField, databasePackage, lines, MAX_PACKAGES } from "./fields.js";

export interface DpkgParseOptions {
  /** Purl namespace: "debian", "ubuntu"…; default "debian". */
  readonly distro?: string;
}

/** The first line of each field of one paragraph, field names lower-cased; continuation lines ignored. */
function* paragraphs(text: string): Generator<Map<string, string>> {
  let fields = new Map<string, string>();
  for (const line of lines(text)) {
    if (line.trim() === "") {
      if (fields.size > 0) yield fields;
      fields = new Map();
      continue;
    }
    // Continuation of the previous field (Description, Conffiles…): nothing digesta reads.
    if (line.startsWith(" ") || line.startsWith("\t")) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  if (fields.size > 0) yield fields;
}

/**
 * The dpkg states (the third word of Status) of a package whose files are on disk: all but `not-installed` and
 * `config-files` (a removed package whose configuration lingers), as `dpkg-query -W` lists them. A package waiting
 * for its triggers (`install ok triggers-pending`, common in images built with triggers deferred) is installed.
 */
const PRESENT_STATES = new Set(["installed", "triggers-pending", "triggers-awaited", "half-configured", "unpacked", "half-installed"]);

/**
 * Installed packages of a dpkg database: `var/lib/dpkg/status`, or one distroless `var/lib/dpkg/status.d/*` file
 * (same format, Status usually omitted: such paragraphs are kept). A paragraph with a Status is kept when its
 * state says the package's files are on disk (PRESENT_STATES). Never throws: junk and incomplete paragraphs are
 * skipped. Stops after MAX_PACKAGES + 1 packages.
 */
export function parseDpkgStatus(text: string, options: DpkgParseOptions = {}): Package[] {
  const distro = options.distro ?? "debian";
  const packages: Package[] = [];
  for (const fields of paragraphs(text)) {
    if (packages.length > MAX_PACKAGES) break;
    const status = fields.get("status");
    if (status !== undefined && !PRESENT_STATES.has(status.split(/\s+/)[2] ?? "")) continue;
    const name = cleanField(fields.get("package"));
    const version = cleanField(fields.get("version"));
    if (!name || !version) continue;
    const arch = cleanField(fields.get("architecture"));
    // "Source: glibc (2.36-9)": the source package, with its version when it differs from the binary's.
    const origin = cleanField(fields.get("source")?.split(/\s+/)[0]);
    packages.push(databasePackage("deb", distro, { name, version, arch, origin }));
  }
  return packages;
}

/**
 * The distribution a dpkg database names through its own `base-files` package, for images whose os-release is not at
 * hand (a lower layer the read never reached): Ubuntu's versions say "ubuntu" (`13ubuntu10.1`), Debian's do not.
 */
export function dpkgDistroOf(text: string): string | undefined {
  const m = /^Package: base-files\r?\n(?:(?!\r?\n\r?\n)[\s\S])*?^Version: (\S+)/m.exec(text);
  if (!m) return undefined;
  return /ubuntu/i.test(m[1]!) ? "ubuntu" : "debian";
}
