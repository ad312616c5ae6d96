import type { Package } from "../types.js";
import { cleanField } from "./fields.js";
import { formatPurl } from "./purl.js";

/** A header blob that cannot be what rpm stored; the message says what is wrong with it. */
export class RpmHeaderError extends Error {
  override readonly name = "RpmHeaderError";
}

// rpm's tags and types (rpmtag.h) that digesta reads.
const TAG_NAME = 1000;
const TAG_VERSION = 1001;
const TAG_RELEASE = 1002;
const TAG_EPOCH = 1003;
const TAG_ARCH = 1022;
const TAG_SOURCERPM = 1044;
const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

/** rpm's own limits (header_internal.h): more index entries or data than this is not a header rpm wrote. */
const HEADER_TAGS_MAX = 0xffff;
const HEADER_DATA_MAX = 0x0fffffff;
const INDEX_ENTRY_BYTES = 16;

/** The fields of one installed package, from its header. */
export interface RpmHeaderFields {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch?: number;
  readonly arch?: string;
  readonly sourceRpm?: string;
}

/**
 * The fields digesta reads of an rpm header blob as the database stores it (no lead, no magic): a big-endian
 * index count and data length, the index entries (tag, type, offset, count), then the data they point into.
 * Throws RpmHeaderError when the blob is not such a header or lacks a name, version or release.
 */
export function parseRpmHeader(blob: Uint8Array): RpmHeaderFields {
  if (blob.length < 8) throw new RpmHeaderError(`a ${blob.length}-byte blob is not an rpm header`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const indexCount = view.getUint32(0);
  const dataLength = view.getUint32(4);
  if (indexCount === 0 || indexCount > HEADER_TAGS_MAX || dataLength > HEADER_DATA_MAX) {
    throw new RpmHeaderError(`an rpm header cannot have ${indexCount} entries and ${dataLength} bytes of data`);
  }
  const dataStart = 8 + indexCount * INDEX_ENTRY_BYTES;
  if (dataStart + dataLength > blob.length) throw new RpmHeaderError("the rpm header is longer than its blob");
  const data = blob.subarray(dataStart, dataStart + dataLength);

  const strings = new Map<number, string>();
  let epoch: number | undefined;
  for (let i = 0; i < indexCount; i++) {
    const at = 8 + i * INDEX_ENTRY_BYTES;
    const tag = view.getUint32(at);
    const type = view.getUint32(at + 4);
    const offset = view.getInt32(at + 8);
    const count = view.getUint32(at + 12);
    if (offset < 0 || offset >= dataLength || count === 0) continue;
    switch (tag) {
      case TAG_NAME:
      case TAG_VERSION:
      case TAG_RELEASE:
      case TAG_ARCH:
      case TAG_SOURCERPM:
        // A string, or the first of an array (i18n strings: the first is the untranslated one).
        if (type === TYPE_STRING || type === TYPE_STRING_ARRAY || type === TYPE_I18NSTRING) {
          const value = stringAt(data, offset);
          if (value !== undefined) strings.set(tag, value);
        }
        break;
      case TAG_EPOCH:
        if (type === TYPE_INT32 && offset + 4 <= dataLength) epoch = new DataView(data.buffer, data.byteOffset + offset, 4).getUint32(0);
        break;
    }
  }
  const name = cleanField(strings.get(TAG_NAME));
  const version = cleanField(strings.get(TAG_VERSION));
  const release = cleanField(strings.get(TAG_RELEASE));
  if (!name || !version || !release) throw new RpmHeaderError("the rpm header has no name, version or release");
  const arch = cleanField(strings.get(TAG_ARCH));
  const sourceRpm = cleanField(strings.get(TAG_SOURCERPM));
  return { name, version, release, ...(epoch !== undefined && { epoch }), ...(arch && { arch }), ...(sourceRpm && { sourceRpm }) };
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** The NUL-terminated string at `offset`, or undefined when it runs off the data. */
function stringAt(data: Uint8Array, offset: number): string | undefined {
  const end = data.indexOf(0, offset);
  if (end < 0) return undefined;
  return decoder.decode(data.subarray(offset, end));
}

/** Purl namespaces that differ from the os-release ID: Red Hat's own SBOMs and Syft say `pkg:rpm/redhat/…`. */
const RPM_NAMESPACES: Readonly<Record<string, string>> = { rhel: "redhat" };

/**
 * The package of a header: version `[EPOCH:]VERSION-RELEASE` (as rpm -q --qf '%{EVR}' spells it, the order
 * compareRpmVersions reads), purl `pkg:rpm/<distro>/<name>@<version>-<release>?arch=…&epoch=…&upstream=<source rpm>`
 * as the purl spec and Syft write it, the source rpm as origin.
 */
export function rpmPackage(fields: RpmHeaderFields, distro: string | undefined): Package {
  const { name, version, release, epoch, arch, sourceRpm } = fields;
  const evr = `${epoch !== undefined && epoch > 0 ? `${epoch}:` : ""}${version}-${release}`;
  const qualifiers: Record<string, string> = {};
  if (arch) qualifiers["arch"] = arch;
  if (epoch !== undefined && epoch > 0) qualifiers["epoch"] = String(epoch);
  if (sourceRpm) qualifiers["upstream"] = sourceRpm;
  return {
    type: "rpm",
    name,
    version: evr,
    ...(arch && { arch }),
    ...(sourceRpm && { origin: sourceRpm }),
    purl: formatPurl({ type: "rpm", ...(distro && { namespace: RPM_NAMESPACES[distro] ?? distro }), name, version: `${version}-${release}`, qualifiers }),
  };
}
