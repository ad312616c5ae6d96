import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { describe, expect, it } from "vitest";
import { createDeferredLogger, deferredLogger } from "../../src/logging/deferred-logger.js";
import { stderrLogger } from "../../src/logging/logger-options.js";

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A deferred logger over a real pino logger, counting how often it was made. */
function counted(level: string) {
  const out = capture();
  let made = 0;
  const logger = deferredLogger(level, () => {
    made++;
    return stderrLogger(pino, level, "json", out.stream);
  });
  return { logger, out, made: () => made };
}

describe("the command line's deferred logger", () => {
  it("makes no pino logger for lines below its level, children included, and answers level questions without one", () => {
    const { logger, made } = counted("warn");
    logger.debug({ registry: "r" }, "pinged");
    logger.info("hello");
    logger.trace("deep");
    const child = logger.child({ repository: "o/r" });
    child.debug("quiet");
    child.child({ image: "x" }).info("quieter");
    expect(logger.level).toBe("warn");
    expect(logger.isLevelEnabled("debug")).toBe(false);
    expect(logger.isLevelEnabled("error")).toBe(true);
    expect(logger.isLevelEnabled("no-such-level")).toBe(false);
    expect(made()).toBe(0);
  });

  it("makes pino once, with the first line at its level, and writes every line after it with the child's bindings", () => {
    const { logger, out, made } = counted("info");
    const child = logger.child({ repository: "o/r" });
    logger.debug("not written");
    child.warn({ helper: "pass" }, "credential helper failed");
    logger.info("second");
    child.error("third");
    expect(made()).toBe(1);
    const lines = out.lines();
    expect(lines.map((line) => line["msg"])).toEqual(["credential helper failed", "second", "third"]);
    expect(lines[0]).toMatchObject({ level: 40, repository: "o/r", helper: "pass" });
    expect(lines[1]).not.toHaveProperty("repository");
  });

  it("hands a child with a level of its own to pino at once", () => {
    const { logger, out, made } = counted("warn");
    logger.child({ part: "x" }, { level: "debug" }).debug("now written");
    expect(made()).toBe(1);
    expect(out.lines()).toMatchObject([{ msg: "now written", part: "x" }]);
  });

  it("writes nothing at silent", () => {
    const { logger, out, made } = counted("silent");
    logger.fatal("gone");
    expect(made()).toBe(0);
    expect(out.lines()).toEqual([]);
  });

  it("refuses a level pino does not know when it is made, as pino does", () => {
    expect(() => createDeferredLogger("loud", "json", capture().stream)).toThrow(/loud/);
  });

  it("is what pino is once made: other members pass through, and setting the level reaches pino", () => {
    const out = capture();
    const logger: Logger = createDeferredLogger("warn", "json", out.stream);
    logger.level = "debug";
    logger.debug("after the change");
    expect(logger.isLevelEnabled("debug")).toBe(true);
    expect(typeof logger.bindings).toBe("function");
    expect(out.lines()).toMatchObject([{ msg: "after the change" }]);
  });
});
