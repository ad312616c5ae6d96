#!/usr/bin/env node
import module from "node:module";

// Node 22.1 and later keep the compiled code of the modules a run loads, and start the next run from it.
module.enableCompileCache?.();
await import("../dist/bundle/digesta.js");
