import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Digest } from "../../src/registry/manifest.js";
import { SMALL_BODY_BYTES, sha256Hex } from "../../src/registry/sha256.js";

const reference = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("sha256Hex", () => {
  it("gives FIPS 180-4's answers for its examples", () => {
    expect(sha256Hex(new Uint8Array())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex(Buffer.from("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(Buffer.from("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("agrees with node:crypto at every length across three blocks, where the padding changes shape", () => {
    const bytes = randomBytes(200);
    for (let length = 0; length <= bytes.length; length++) {
      const body = bytes.subarray(0, length);
      expect(sha256Hex(body), `length ${length}`).toBe(reference(body));
    }
  });

  it("agrees with node:crypto on random bodies up to the size it is used for, and on a view into a larger buffer", () => {
    for (let i = 0; i < 40; i++) {
      const body = randomBytes(Math.floor(Math.random() * SMALL_BODY_BYTES) + 1);
      expect(sha256Hex(body)).toBe(reference(body));
    }
    const buffer = randomBytes(4096);
    const view = new Uint8Array(buffer.buffer, buffer.byteOffset + 7, 1000);
    expect(sha256Hex(view)).toBe(reference(view));
    const ones = new Uint8Array(SMALL_BODY_BYTES).fill(0xff);
    expect(sha256Hex(ones)).toBe(reference(ones));
  });
});

describe("sha256Digest", () => {
  it("is the same digest on both sides of the size where it moves to node:crypto", () => {
    for (const length of [SMALL_BODY_BYTES - 1, SMALL_BODY_BYTES, SMALL_BODY_BYTES + 1, 3 * SMALL_BODY_BYTES]) {
      const body = randomBytes(length);
      expect(sha256Digest(body)).toBe(`sha256:${reference(body)}`);
    }
  });
});
