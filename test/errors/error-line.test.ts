import { describe, expect, it } from "vitest";
import { errorLine } from "../../src/errors/error-line.js";

describe("errorLine", () => {
  it("keeps the first line of a message, trimmed, and names an empty one", () => {
    expect(errorLine(new Error("  manifest unknown \n    at stack (x.js:1:1)"))).toBe("manifest unknown");
    expect(errorLine("plain text\nmore")).toBe("plain text");
    expect(errorLine(new Error(""))).toBe("unknown error");
    expect(errorLine(undefined)).toBe("undefined");
  });

  it("cuts the line to the length asked for", () => {
    expect(errorLine(new Error("x".repeat(500)), 300)).toBe("x".repeat(300));
    expect(errorLine(new Error("short"), 300)).toBe("short");
  });
});
