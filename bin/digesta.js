#!/usr/bin/env node
// CommonJS (bin/package.json says so): the command line loads through require(), without the ES module loader.
"use strict";

// Node 22.1 and later keep the compiled code of the modules a run loads, and start the next run from it.
require("node:module").enableCompileCache?.();
require("../dist/bundle/digesta.cjs");
