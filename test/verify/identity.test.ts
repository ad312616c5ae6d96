import { describe, expect, it } from "vitest";
import { identityMatches, MAX_IDENTITY_LENGTH } from "../../src/verify/rules.js";

const WORKFLOW = "https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main";

describe("identity matching", () => {
  it("matches an exact identity only when it is the same string", () => {
    expect(identityMatches(WORKFLOW, WORKFLOW)).toBe(true);
    expect(identityMatches(WORKFLOW, `${WORKFLOW}x`)).toBe(false);
    expect(identityMatches(WORKFLOW, undefined)).toBe(false);
  });

  it("matches a pattern unanchored, as cosign's --certificate-identity-regexp", () => {
    expect(identityMatches(/chainguard-images\/images\//u, WORKFLOW)).toBe(true);
    expect(identityMatches(/^https:\/\/github\.com\/evil\//u, WORKFLOW)).toBe(false);
  });

  it("refuses an identity longer than any real one before a pattern runs on it", () => {
    expect(identityMatches(/.*/u, "a".repeat(MAX_IDENTITY_LENGTH + 1))).toBe(false);
  });

  it("gives up on a backtracking pattern that a signer's identity makes run without end, instead of holding the process", () => {
    // (a+)+$ on forty a's and a mismatch takes 2^40 steps: without the watchdog this test never ends.
    expect(identityMatches(/^(a+)+$/u, `${"a".repeat(40)}!`)).toBe("too-slow");
    // and the next check still works
    expect(identityMatches(/^a+$/u, "aaaa")).toBe(true);
  });
});
