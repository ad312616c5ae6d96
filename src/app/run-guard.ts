interface Pending<T> {
  task: () => Promise<T>;
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  running: Promise<unknown>;
  pending?: Pending<unknown>;
}

/**
 * One run per key (a repository) at a time. A trigger that arrives while a run is going does not start a second
 * one: it is merged into a single rerun that starts when the current run ends, so that the rerun sees whatever the
 * trigger was about; every trigger merged into it is answered by that rerun.
 */
export class RunGuard {
  readonly #slots = new Map<string, Slot>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const slot = this.#slots.get(key);
    if (!slot) return this.#start(key, task);
    if (slot.pending) {
      slot.pending.task = task as () => Promise<unknown>;
      return slot.pending.promise as Promise<T>;
    }
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    slot.pending = { task, promise, resolve, reject } as Pending<unknown>;
    return promise;
  }

  /** Whether a run is going for the key. */
  isRunning(key: string): boolean {
    return this.#slots.has(key);
  }

  /** Resolves once no run is going or waiting (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#slots.size > 0) {
      await Promise.allSettled([...this.#slots.values()].map((slot) => slot.running));
    }
  }

  #start<T>(key: string, task: () => Promise<T>): Promise<T> {
    const running = Promise.resolve().then(task);
    const slot: Slot = { running };
    this.#slots.set(key, slot);
    const next = () => {
      const pending = slot.pending;
      this.#slots.delete(key);
      if (pending) {
        this.#start(key, pending.task).then(pending.resolve, pending.reject);
      }
    };
    running.then(next, next);
    return running;
  }
}
