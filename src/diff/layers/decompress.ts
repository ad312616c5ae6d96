import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";

export type LayerCompression = "gzip" | "zstd" | "none";

/** The compression of a layer, from its first bytes (media types lie often enough not to trust them). */
export function detectCompression(head: Uint8Array): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  // Layers compressed with a skippable frame first (e.g. eStargz-like zstd:chunked tables) are zstd too.
  if (head[0] !== undefined && (head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return "zstd";
  return "none";
}

/** Layer decompression failed; the message says why. */
export class LayerFormatError extends Error {
  override readonly name = "LayerFormatError";
}

/** Decoders refuse windows above 2^27 by default (zstd's own ZSTD_WINDOWLOG_LIMIT_DEFAULT); so do we, to bound memory. */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;
const MAX_BLOCK = 128 * 1024;

/**
 * Walks zstd frame and block headers as bytes go by, without decoding, so that a frame asking for a window
 * larger than `maxWindow` is refused before the decoder allocates it (fzstd would allocate up to 2 GiB).
 */
export class ZstdFrameGuard {
  private state: "magic" | "header" | "skip-size" | "block-header" | "skip" = "magic";
  private readonly head: number[] = [];
  private need = 4;
  private skip = 0;
  private after: "block-header" | "magic" = "magic";
  private checksum = false;
  private lastBlock = false;

  constructor(private readonly maxWindow: number = MAX_ZSTD_WINDOW) {}

  inspect(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === "skip") {
        const n = Math.min(this.skip, chunk.length - i);
        i += n;
        this.skip -= n;
        if (this.skip === 0) this.afterSkip();
        continue;
      }
      this.head.push(chunk[i++]!);
      if (this.head.length < this.need) continue;
      this.parseHead();
    }
  }

  /** Throws when the stream stopped inside a frame. */
  end(): void {
    if (this.state !== "magic" || this.head.length > 0) throw new LayerFormatError("zstd layer is truncated");
  }

  private afterSkip(): void {
    if (this.after === "magic") this.expect("magic", 4);
    else if (this.lastBlock) {
      this.lastBlock = false;
      if (this.checksum) this.skipBytes(4, "magic");
      else this.expect("magic", 4);
    } else this.expect("block-header", 3);
  }

  private expect(state: "magic" | "header" | "skip-size" | "block-header", need: number): void {
    this.state = state;
    this.need = need;
    this.head.length = 0;
  }

  private skipBytes(n: number, after: "block-header" | "magic"): void {
    this.head.length = 0;
    this.after = after;
    if (n === 0) {
      this.skip = 0;
      this.state = "skip";
      this.afterSkip();
      return;
    }
    this.state = "skip";
    this.skip = n;
  }

  private parseHead(): void {
    const h = this.head;
    switch (this.state) {
      case "magic": {
        if (h[0] === 0x28 && h[1] === 0xb5 && h[2] === 0x2f && h[3] === 0xfd) {
          this.need = 5; // the frame header descriptor tells how long the header is
          this.state = "header";
        } else if ((h[0]! & 0xf0) === 0x50 && h[1] === 0x2a && h[2] === 0x4d && h[3] === 0x18) {
          this.need = 8;
          this.state = "skip-size";
        } else throw new LayerFormatError("layer is not valid zstd (bad frame magic)");
        return;
      }
      case "skip-size": {
        const size = (h[4]! | (h[5]! << 8) | (h[6]! << 16)) + h[7]! * 0x1000000;
        this.skipBytes(size, "magic");
        return;
      }
      case "header": {
        const fhd = h[4]!;
        const singleSegment = (fhd >> 5) & 1;
        const dictBytes = [0, 1, 2, 4][fhd & 3]!;
        const fcsCode = fhd >> 6;
        const fcsBytes = fcsCode === 0 ? singleSegment : 1 << fcsCode;
        const headerLength = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
        if (fhd & 8) throw new LayerFormatError("layer is not valid zstd (reserved header bit set)");
        if (h.length < headerLength) {
          this.need = headerLength;
          return;
        }
        let window: number;
        if (singleSegment) {
          let fcs = 0;
          const at = 5 + dictBytes;
          for (let b = fcsBytes - 1; b >= 0; b--) fcs = fcs * 256 + h[at + b]!;
          window = fcsCode === 1 ? fcs + 256 : fcs;
        } else {
          const wd = h[5]!;
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 7);
        }
        if (window > this.maxWindow) {
          throw new LayerFormatError(
            `zstd layer asks for a ${Math.ceil(window / 1048576)} MiB window, above the ${this.maxWindow / 1048576} MiB limit`,
          );
        }
        this.checksum = ((fhd >> 2) & 1) === 1;
        this.expect("block-header", 3);
        return;
      }
      case "block-header": {
        const bits = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        this.lastBlock = (bits & 1) === 1;
        const type = (bits >> 1) & 3;
        const size = bits >>> 3;
        if (type === 3) throw new LayerFormatError("layer is not valid zstd (reserved block type)");
        if (size > MAX_BLOCK) throw new LayerFormatError("layer is not valid zstd (block larger than 128 KiB)");
        this.skipBytes(type === 1 ? 1 : size, "block-header");
        return;
      }
    }
  }
}

const MAX_PIECE = 64 * 1024;
const MIN_PIECE = 64;
/** Output per input piece we aim to stay under; RLE blocks can turn 4 bytes into 128 KiB. */
const PIECE_OUTPUT_TARGET = 4 * 1024 * 1024;

/**
 * Streaming zstd decompression with fzstd, as a pipeline stage. Input is fed in pieces sized so that one piece
 * never expands to more than a few MiB, and output waits for the consumer (backpressure), so memory stays bounded
 * by the window even for hostile input.
 */
export async function* zstdDecompress(source: AsyncIterable<Uint8Array>, maxWindow = MAX_ZSTD_WINDOW): AsyncGenerator<Buffer> {
  const guard = new ZstdFrameGuard(maxWindow);
  let out: Buffer[] = [];
  let produced = 0;
  const decoder = new Decompress((data) => {
    if (data.length === 0) return;
    out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    produced += data.length;
  });
  const push = (piece: Uint8Array, final: boolean): void => {
    try {
      decoder.push(piece, final);
    } catch (error) {
      throw new LayerFormatError(`layer is not valid zstd (${error instanceof Error ? error.message : String(error)})`);
    }
  };
  let pieceSize = MAX_PIECE;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; ) {
      const piece = chunk.subarray(at, at + pieceSize);
      at += piece.length;
      guard.inspect(piece);
      produced = 0;
      push(piece, false);
      if (produced > PIECE_OUTPUT_TARGET) pieceSize = Math.max(MIN_PIECE, pieceSize >> 3);
      else if (produced < PIECE_OUTPUT_TARGET / 8) pieceSize = Math.min(MAX_PIECE, pieceSize * 2);
      if (out.length) {
        const ready = out;
        out = [];
        yield* ready;
      }
    }
  }
  guard.end();
  push(new Uint8Array(0), true);
  yield* out;
}

/** A source stream with its first `n` bytes read ahead and put back, or fewer when it is shorter. */
export async function peek(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const parts: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const chunk = source.read() as Buffer | string | null;
    if (chunk !== null) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      parts.push(bytes);
      have += bytes.length;
      continue;
    }
    if (source.readableEnded) {
      ended = true;
      break;
    }
    if (source.destroyed) {
      throw source.errored ?? new LayerFormatError("layer stream closed before its first bytes");
    }
    ended = await new Promise<boolean>((resolve, reject) => {
      const cleanup = (): void => {
        source.off("readable", onReadable);
        source.off("end", onEnd);
        source.off("error", onError);
        source.off("close", onClose);
      };
      const onReadable = (): void => (cleanup(), resolve(false));
      const onEnd = (): void => (cleanup(), resolve(true));
      const onClose = (): void => (cleanup(), resolve(source.readableEnded));
      const onError = (error: Error): void => (cleanup(), reject(error));
      source.on("readable", onReadable);
      source.on("end", onEnd);
      source.on("error", onError);
      source.on("close", onClose);
    });
    if (ended) break;
  }
  const head = Buffer.concat(parts);
  if (ended) return { head, stream: Readable.from(head.length ? [head] : []) };
  source.unshift(head);
  return { head, stream: source };
}

/** The decompression stage for a layer, or none for a plain tar. */
export function decompressor(compression: LayerCompression): ((source: AsyncIterable<Uint8Array>) => AsyncGenerator<Buffer>) | NodeJS.ReadWriteStream | undefined {
  if (compression === "gzip") return createGunzip();
  if (compression === "zstd") return (source) => zstdDecompress(source);
  return undefined;
}
