#!/usr/bin/env node
// CommonJS (bin/package.json says so): the command line loads through require(), without the ES module loader.
"use strict";

const bundle = require("node:path").join(__dirname, "..", "dist", "bundle", "digesta.cjs");
const { loadWithCodeCache } = require("./code-cache.js");

// Compiling the bundle is most of a short command's own time. Each run starts from the code V8 compiled for the same
// command in an earlier run, kept in the user's cache directory; anything amiss and the bundle is simply required.
loadWithCodeCache(bundle, process.argv[2]) || require(bundle);
