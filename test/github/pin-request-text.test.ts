import { describe, expect, it } from "vitest";
import { MAX_BODY_LENGTH, PULL_REQUEST_MARKER } from "../../src/github/pull-request-text.js";
import { renderPinBody, renderPinTitle } from "../../src/github/pin-request-text.js";
import type { PinAddition } from "../../src/pin/plan.js";
import type { Digest } from "../../src/reference/types.js";
import type { ImageContents } from "../../src/diff/contents.js";
import { tagKey } from "../../src/reference/format.js";

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}` as Digest;

function pin(n: number, places = 1): PinAddition {
  const image = { registry: "registry.example.com", repository: `team/app-${n}` };
  const occurrences = Array.from({ length: places }, (_, i) => ({
    path: `deploy/app-${n}.yaml`,
    line: i + 1,
    column: 10,
    offset: i * 40,
    text: `registry.example.com/team/app-${n}:1`,
    reference: { ...image, tag: "1" },
    syntax: "yaml-image" as const,
  }));
  return { image, tag: "1", digest: digest(n), kind: "index", occurrences };
}

describe("the pin pull request's text", () => {
  it("says how many images it pins", () => {
    expect(renderPinTitle([pin(1)])).toBe("Pin 1 image by digest");
    expect(renderPinTitle([pin(1), pin(2)])).toBe("Pin 2 images by digest");
  });

  it("stays under GitHub's limit with hundreds of pins, thousands of places and packages, and says what it cut", () => {
    const pins = Array.from({ length: 400 }, (_, n) => pin(n, 10));
    const contents = new Map<string, ImageContents>(
      pins.map((p) => [
        tagKey(p.image, p.tag),
        { platform: { os: "linux", architecture: "amd64" }, packages: { source: "apk", packages: Array.from({ length: 800 }, (_, i) => ({ type: "apk", name: `pkg-${i}`, version: `1.${i}-r0` })) }, warnings: [] },
      ]),
    );
    const body = renderPinBody({ pins, failed: [], unpinnable: [], contents });
    expect(body.length).toBeLessThanOrEqual(MAX_BODY_LENGTH);
    expect(body.startsWith(PULL_REQUEST_MARKER)).toBe(true);
    expect(body).toMatch(/\| … and \d+ more \| \| \| \|/);
    expect(body).toContain("### Commands");
  });

  it("escapes what a file or a registry says, so no name can break out of the table or mention anyone", () => {
    const hostile = { ...pin(1), tag: "1|<img src=x>@team" };
    const body = renderPinBody({
      pins: [hostile],
      failed: [],
      unpinnable: [{ path: "a`b.yaml", line: 1, column: 1, offset: 0, text: "${IMAGE}", syntax: "yaml-image", reason: "built from a variable @everyone" }],
      contents: new Map([[tagKey(hostile.image, hostile.tag), { packages: { source: "apk", packages: [{ type: "apk", name: "</details>", version: "1|2" }] }, warnings: ["@admins look"] }]]),
    });
    expect(body).not.toContain("<img");
    expect(body).not.toContain("@everyone");
    expect(body).not.toContain("@admins");
    expect(body.match(/<\/details>/g)?.length).toBe(body.match(/<details>/g)?.length);
  });
});
