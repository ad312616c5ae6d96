// A scan's worker thread (see read-pool.ts): reads the batches of files it is sent and posts back what they hold,
// then counts the answer on the shared signal so the scanning thread can wait for it without polling.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { FileReader, type ReaderOptions } from "./read.js";
import type { BatchRequest, BatchReply } from "./read-pool.js";

const { reader: options, port, signal } = workerData as { reader: ReaderOptions; port: MessagePort; signal: Int32Array };
const reader = new FileReader(options);

parentPort!.on("message", (request: BatchRequest) => {
  const reply: BatchReply = { seq: request.seq, result: reader.readBatch(request.paths) };
  port.postMessage(reply);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});
