import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { packageDiffs, type DiffRequest, type ImageDiffer } from "../../src/engine/package-diffs.js";
import { renderImageDiffs } from "../../src/diff/markdown.js";
import { digest } from "../factories/pins.js";

const platform = { os: "linux", architecture: "arm64" };
const request = (repository: string, shownTag?: string): DiffRequest => ({
  image: { registry: "registry.example", repository },
  tag: "1",
  from: digest("a"),
  to: digest("b"),
  platform,
  ...(shownTag ? { shownTag } : {}),
});

describe("package diffs of several images", () => {
  it("gives an image whose packages cannot be read a section saying why, and keeps the others' diffs", async () => {
    const asked: string[] = [];
    const differ: ImageDiffer = async (image, tag, from, to, p) => {
      asked.push(`${image.repository}:${tag}/${p.architecture}`);
      if (image.repository === "team/gone") throw new Error("manifest unknown: HTTP 404\nstack trace line");
      return { image: `registry.example/${image.repository}`, tag, from, to, packages: { added: [], removed: [], changed: [] }, warnings: [] };
    };
    const diffs = await packageDiffs([request("team/web", "0 → 1"), request("team/gone")], differ, pino({ level: "silent" }));
    expect(asked.sort()).toEqual(["team/gone:1/arm64", "team/web:1/arm64"]);
    expect(diffs[0]).toMatchObject({ image: "registry.example/team/web", tag: "0 → 1", warnings: [] });
    expect(diffs[1]).toMatchObject({
      image: "registry.example/team/gone",
      tag: "1",
      platform,
      warnings: ["could not read the packages: manifest unknown: HTTP 404"],
    });
    expect(renderImageDiffs(diffs)).toContain("could not read the packages: manifest unknown: HTTP 404");
  });
});
