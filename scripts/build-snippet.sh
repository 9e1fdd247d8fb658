#!/usr/bin/env bash
# Builds the browser snippet into dist/snippet/:
#   intent.js                         the loader (crates/snippet/js/intent.js, comments stripped)
#   _intent/intent_snippet.js         wasm-bindgen's JS glue (ES module, loaded by import())
#   _intent/intent_snippet_bg.wasm    the tracker, optimised for size by wasm-opt -Oz
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=dist/snippet
cargo=${CARGO:-cargo}

# NOTE: wasm-bindgen's CLI must be the exact version of the wasm-bindgen library in Cargo.lock,
# or the glue does not match the wasm. Install it (without --locked: a locked dependency is
# missing from the registry) only when the right version is not already there.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
  "$cargo" install wasm-bindgen-cli --version "$want"
fi

# NOTE: wasm-opt comes from npm binaryen@132.0.0 (root package.json). Debian's wasm-opt 108
# produces wasm that fails in Chromium (`WebAssembly.Table.set(): Argument 1 is invalid`).
wasm_opt=${WASM_OPT_BIN:-$root/node_modules/.bin/wasm-opt}
if [ ! -x "$wasm_opt" ]; then
  npm ci --no-audit --no-fund >/dev/null
fi

# NOTE: built without the workspace's `strip = true`: crates/snippet/build/minify.mjs needs the
# function names (wasm-opt strips them afterwards), and wasm-bindgen reads the target-features
# section to emit reference-type glue. Its own target dir keeps this from rebuilding the
# worker's wasm dependencies back and forth.
target_dir=target/snippet
CARGO_PROFILE_RELEASE_STRIP=false "$cargo" build --release --target wasm32-unknown-unknown \
  -p intent-snippet --target-dir "$target_dir"
rm -rf "$out"
mkdir -p "$out/_intent"
# --target web: an ES module the loader import()s. The loader passes the wasm URL, so the
# default-path code that reads import.meta.url is left out.
wasm-bindgen "$target_dir/wasm32-unknown-unknown/release/intent_snippet.wasm" \
  --out-dir "$out/_intent" --target web --no-typescript --omit-default-module-path \
  --remove-producers-section
# wasm-opt -Oz, short import/export names, and a minified glue: see the script for why.
node crates/snippet/build/minify.mjs "$out/_intent" "$wasm_opt"
# The loader is written to be read; it ships minified.
node_modules/.bin/esbuild crates/snippet/js/intent.js --minify --target=es2017 --log-level=warning \
  --outfile="$out/intent.js"
echo "built $out"
