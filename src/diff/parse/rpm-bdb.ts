// rpm's Berkeley DB `Packages` (RHEL/CentOS 7–8, Amazon Linux 2): a BDB hash database whose values are header
// blobs. Read page by page as the format lays it out (db_page.h): the hash pages hold key/value pairs, a value either
// inline (H_KEYDATA) or, as headers mostly are, on a chain of overflow pages (H_OFFPAGE).

export class BerkeleyDbError extends Error {
  override readonly name = "BerkeleyDbError";
}

const HASH_MAGIC = 0x061561;
const PAGE_HEADER_BYTES = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;

/**
 * The values of a Berkeley DB hash file, in page order. Throws BerkeleyDbError when the file is not an unencrypted
 * hash database. Bounded by the file: every page is read at most once per chain, and a chain longer than the file
 * (a loop) is refused.
 */
export function* berkeleyHashValues(file: Uint8Array): Generator<Uint8Array> {
  if (file.length < 512) throw new BerkeleyDbError("the file is too short for a Berkeley DB");
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let little = true;
  if (view.getUint32(12, true) !== HASH_MAGIC) {
    if (view.getUint32(12, false) !== HASH_MAGIC) throw new BerkeleyDbError("the file is not a Berkeley DB hash database");
    little = false;
  }
  if (file[25] !== P_HASHMETA) throw new BerkeleyDbError("the Berkeley DB's first page is not hash metadata");
  if (file[24] !== 0) throw new BerkeleyDbError("the Berkeley DB is encrypted");
  const pageSize = view.getUint32(20, little);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new BerkeleyDbError(`a page size of ${pageSize} is not Berkeley DB's`);
  const pageCount = Math.floor(file.length / pageSize);
  const lastPage = Math.min(view.getUint32(32, little), pageCount - 1);

  const u16 = (at: number): number => view.getUint16(at, little);
  const u32 = (at: number): number => view.getUint32(at, little);

  for (let page = 1; page <= lastPage; page++) {
    const start = page * pageSize;
    const type = file[start + 25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(start + 20);
    if (PAGE_HEADER_BYTES + entries * 2 > pageSize) continue;
    // Entries are key, value, key, value…; each offset points at an item whose first byte is its type, items laid
    // from the end of the page down, so an item ends where the one before it starts.
    for (let i = 1; i < entries; i += 2) {
      const offset = u16(start + PAGE_HEADER_BYTES + i * 2);
      const end = u16(start + PAGE_HEADER_BYTES + (i - 1) * 2);
      if (offset < PAGE_HEADER_BYTES || offset >= pageSize) continue;
      const itemType = file[start + offset];
      if (itemType === H_KEYDATA) {
        if (end > offset && end <= pageSize) yield file.subarray(start + offset + 1, start + end);
      } else if (itemType === H_OFFPAGE && offset + 12 <= pageSize) {
        yield overflowChain(file, u32(start + offset + 4), u32(start + offset + 8), pageSize, pageCount, u16, u32);
      }
    }
  }
}

function overflowChain(
  file: Uint8Array,
  first: number,
  length: number,
  pageSize: number,
  pageCount: number,
  u16: (at: number) => number,
  u32: (at: number) => number,
): Uint8Array {
  if (length > file.length) throw new BerkeleyDbError(`an overflow item of ${length} bytes is longer than the file`);
  const out = new Uint8Array(length);
  let filled = 0;
  let steps = 0;
  for (let page = first; page !== 0 && filled < length; ) {
    if (page >= pageCount || ++steps > pageCount) throw new BerkeleyDbError("an overflow chain leaves the file or loops");
    const start = page * pageSize;
    if (file[start + 25] !== P_OVERFLOW) throw new BerkeleyDbError(`page ${page} of an overflow chain is not an overflow page`);
    // On overflow pages, the header's free-area offset is the number of bytes the page holds.
    const held = Math.min(u16(start + 22), pageSize - PAGE_HEADER_BYTES, length - filled);
    out.set(file.subarray(start + PAGE_HEADER_BYTES, start + PAGE_HEADER_BYTES + held), filled);
    filled += held;
    page = u32(start + 16);
  }
  if (filled !== length) throw new BerkeleyDbError(`an overflow chain holds ${filled} of its ${length} bytes`);
  return out;
}
