/** Redraws at most this often, and at least this often while a phase runs (with its elapsed time), so a slow step never looks like a hang. */
const TICK_MS = 250;

/** What a command reports as it goes: one phase at a time (`reading files`, `resolving tags`, `diffing images`). */
export interface Progress {
  /** Starts a phase; `total` when the number of steps is known. Ends the phase before it. */
  phase(label: string, total?: number): void;
  /** Steps done in the current phase. */
  update(done: number, total?: number): void;
  /** Clears the line; the next output starts clean. */
  end(): void;
}

const SILENT: Progress = { phase() {}, update() {}, end() {} };

/**
 * A one-line progress display on stderr when a person is watching it (a terminal), nothing otherwise: redrawn on
 * each step (at most every 250 ms) and every 250 ms regardless, with the phase's elapsed seconds after the first,
 * so that no stretch of more than a second passes without a sign of life.
 */
export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, now: () => number = Date.now): Progress {
  if (!stream.isTTY) return SILENT;
  let label = "";
  let done = 0;
  let total: number | undefined;
  let started = 0;
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;

  const draw = () => {
    drawn = now();
    const seconds = Math.floor((drawn - started) / 1000);
    const count = total === undefined ? (done > 0 ? ` ${done}` : "") : ` ${done}/${total}`;
    const line = `${label}${count}${seconds >= 1 ? ` (${seconds}s)` : ""}`;
    const width = Math.max(20, (stream.columns ?? 80) - 1);
    stream.write(`\r${line.slice(0, width)}\x1b[K`);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    phase(next, steps) {
      label = next;
      done = 0;
      total = steps;
      started = now();
      draw();
      if (!timer) {
        timer = setInterval(draw, TICK_MS);
        timer.unref();
      }
    },
    update(steps, of) {
      done = steps;
      if (of !== undefined) total = of;
      if (now() - drawn >= TICK_MS || (total !== undefined && done === total)) draw();
    },
    end() {
      if (!timer && label === "") return;
      stop();
      label = "";
      stream.write("\r\x1b[K");
    },
  };
}
