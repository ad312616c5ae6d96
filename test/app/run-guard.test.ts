import { describe, expect, it } from "vitest";
import { RunGuard } from "../../src/app/run-guard.js";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("RunGuard", () => {
  it("runs one task per key at a time and merges every trigger during a run into one rerun", async () => {
    const guard = new RunGuard();
    const gate = deferred();
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string, wait?: Promise<void>) => async () => {
      started.push(name);
      most = Math.max(most, ++running);
      await wait;
      running--;
      return name;
    };

    const first = guard.run("octo/app", task("first", gate.promise));
    const second = guard.run("octo/app", task("second"));
    const third = guard.run("octo/app", task("third"));
    expect(guard.isRunning("octo/app")).toBe(true);
    gate.resolve();

    expect(await first).toBe("first");
    // The two triggers that came during the first run are answered by one rerun, with the latest task.
    expect(await second).toBe("third");
    expect(await third).toBe("third");
    expect(started).toEqual(["first", "third"]);
    expect(most).toBe(1);
    await guard.idle();
    expect(guard.isRunning("octo/app")).toBe(false);
  });

  it("runs different keys side by side", async () => {
    const guard = new RunGuard();
    const gate = deferred();
    const order: string[] = [];
    const a = guard.run("a", async () => {
      await gate.promise;
      order.push("a");
    });
    const b = guard.run("b", async () => {
      order.push("b");
    });
    await b;
    gate.resolve();
    await a;
    expect(order).toEqual(["b", "a"]);
  });

  it("starts the rerun even when the run before it failed, and hands each caller its own outcome", async () => {
    const guard = new RunGuard();
    const gate = deferred();
    const failing = guard.run("k", async () => {
      await gate.promise;
      throw new Error("registry down");
    });
    const next = guard.run("k", async () => "ok");
    gate.resolve();
    await expect(failing).rejects.toThrow("registry down");
    expect(await next).toBe("ok");
  });
});
