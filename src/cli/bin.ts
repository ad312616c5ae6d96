import { main } from "./main.js";

// `digesta scan | head -1`: once the reader has gone, the rest of the output has nowhere to go. Stop quietly, as
// other command-line tools do, instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// No top-level await: the bundle is CommonJS (see scripts/build-cli.mjs).
void (async () => {
  process.exitCode = await main(process.argv.slice(2));
  // A command-line run ends when its work is done: once what it printed is flushed, nothing left behind (an idle
  // keep-alive connection, a timer) keeps the process waiting.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
  process.exit();
})();
