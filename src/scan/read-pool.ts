// Worker threads that read batches of files beside the scanning thread. Opening and reading files is nearly all
// a scan's time (system calls, most of it), and one thread makes them one at a time; on a machine with more cores
// the walk hands whole batches to workers and reads others itself. Replies come back on a port the scanning
// thread polls between its own batches (receiveMessageOnPort), so it never waits for an event-loop turn to keep a
// worker fed. A worker that fails to start or dies gives its unanswered batches back, to be read in this thread.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { BatchResult, ReaderOptions } from "./read.js";

export interface BatchRequest {
  readonly seq: number;
  readonly paths: string[];
}

export interface BatchReply {
  readonly seq: number;
  readonly result: BatchResult;
}

/** Batches a worker may hold at once: one it reads, one waiting, so it never idles between two. */
const QUEUED_PER_WORKER = 2;
/** Longest blocking wait for a reply before the event loop gets a turn (to hear of a worker that died). */
const WAIT_MS = 20;

interface PoolWorker {
  readonly thread: Worker;
  readonly port: MessagePort;
  readonly sent: Map<number, BatchRequest>;
  failed: boolean;
}

// Under the test runner this module is TypeScript, and so is its worker, which then needs tsx to load.
const SOURCE = import.meta.url.endsWith(".ts");
const WORKER_URL = new URL(SOURCE ? "./read-worker.ts" : "./read-worker.js", import.meta.url);

/** A worker script that registers tsx's loader, then loads the TypeScript worker (`--import tsx` does not reach a worker's own entry on Node 20). */
function loadThroughTsx(url: URL): string {
  // tsx's ESM API (its `require` build imports a path that does not exist when loaded from ESM).
  const tsx = new URL("dist/esm/api/index.mjs", pathToFileURL(createRequire(import.meta.url).resolve("tsx/package.json"))).href;
  return `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); });`;
}

export class ReadPool {
  private readonly workers: PoolWorker[] = [];
  /** Counts the replies posted by all workers, so that waiting for the next is a futex wait, not a poll. */
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private signalSeen = 0;

  /** `workerUrl` is for tests, to see a worker fail. */
  constructor(count: number, reader: ReaderOptions, workerUrl: URL = WORKER_URL) {
    for (let i = 0; i < count; i++) {
      const { port1, port2 } = new MessageChannel();
      const options = { workerData: { reader, port: port2, signal: this.signal }, transferList: [port2] };
      const thread = SOURCE && workerUrl.pathname.endsWith(".ts") ? new Worker(loadThroughTsx(workerUrl), { ...options, eval: true }) : new Worker(workerUrl, options);
      const worker: PoolWorker = { thread, port: port1, sent: new Map(), failed: false };
      const fail = () => {
        worker.failed = true;
      };
      thread.on("error", fail);
      thread.on("exit", fail);
      this.workers.push(worker);
    }
  }

  /** Batches sent and not yet answered or given back. */
  get outstanding(): number {
    let count = 0;
    for (const worker of this.workers) count += worker.sent.size;
    return count;
  }

  /** Hands the batch to the least busy working worker that has room for it; false when none has. */
  offer(request: BatchRequest): boolean {
    let chosen: PoolWorker | undefined;
    for (const worker of this.workers) {
      if (worker.failed || worker.sent.size >= QUEUED_PER_WORKER) continue;
      if (!chosen || worker.sent.size < chosen.sent.size) chosen = worker;
    }
    if (!chosen) return false;
    chosen.sent.set(request.seq, request);
    chosen.thread.postMessage(request);
    return true;
  }

  /** The replies that have arrived, without waiting; and the batches of failed workers, to be read by the caller. */
  collect(): { replies: BatchReply[]; orphans: BatchRequest[] } {
    this.signalSeen = Atomics.load(this.signal, 0);
    const replies: BatchReply[] = [];
    const orphans: BatchRequest[] = [];
    for (const worker of this.workers) {
      for (let received = receiveMessageOnPort(worker.port); received; received = receiveMessageOnPort(worker.port)) {
        const reply = received.message as BatchReply;
        worker.sent.delete(reply.seq);
        replies.push(reply);
      }
      if (worker.failed && worker.sent.size > 0) {
        orphans.push(...worker.sent.values());
        worker.sent.clear();
      }
    }
    return { replies, orphans };
  }

  /** Waits a little for the next reply (returning at once if one came since `collect`), then lets events run. */
  async waitForReplies(): Promise<void> {
    Atomics.wait(this.signal, 0, this.signalSeen, WAIT_MS);
    await new Promise((resolve) => setImmediate(resolve));
  }

  close(): void {
    for (const worker of this.workers) {
      worker.port.close();
      void worker.thread.terminate();
    }
  }
}
