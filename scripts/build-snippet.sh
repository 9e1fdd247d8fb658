#!/usr/bin/env bash
# Builds the browser snippet into dist/snippet/:
#   intent.js                         the loader (crates/snippet/js/intent.js, minified)
#   _intent/intent_snippet.js         wasm-bindgen's JS glue (ES module, loaded by import())
#   _intent/intent_snippet_bg.wasm    the tracker (crates/snippet), optimised for size
#   _intent/consent.js                the consent platforms' adapters (crates/snippet/js/consent.js)
# scripts/size-check.sh then checks them against the budgets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
out=dist/snippet
cargo=${CARGO:-cargo}

# The tools come from scripts/setup.sh (`make setup`): wasm-bindgen-cli at the exact version of
# the wasm-bindgen library in Cargo.lock (else the glue does not match the wasm), and npm's
# binaryen wasm-opt and esbuild (never Debian's wasm-opt 108: its output fails in Chromium).
want=$(lock_version wasm-bindgen)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
  echo "build-snippet: wasm-bindgen $want is needed; run scripts/setup.sh" >&2
  exit 1
fi
for tool in "$WASM_OPT_BIN" node_modules/.bin/esbuild; do
  [ -x "$tool" ] || { echo "build-snippet: $tool is missing; run scripts/setup.sh" >&2; exit 1; }
done

# NOTE: built without the workspace's `strip = true`: crates/snippet/build/minify.mjs needs the
# function names (wasm-opt strips them afterwards), and wasm-bindgen reads the target-features
# section to emit reference-type glue. Its own target dir keeps this from rebuilding the
# worker's wasm dependencies back and forth.
target_dir=target/snippet
# The panic locations the wasm keeps name their source files: without the build machine's
# registry folder, the shipped file is smaller and says nothing about where it was built.
remap=""
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  remap+=" --remap-path-prefix=$src="
done
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap# }" \
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
node crates/snippet/build/minify.mjs "$out/_intent" "$WASM_OPT_BIN"
# The loader is written to be read; it ships minified. So do the consent adapters, which the
# loader imports only for a tag with data-consent-from (not part of the 12 KiB budget).
node_modules/.bin/esbuild crates/snippet/js/intent.js --minify --target=es2017 --log-level=warning \
  --outfile="$out/intent.js"
node_modules/.bin/esbuild crates/snippet/js/consent.js --minify --format=esm --target=es2017 \
  --log-level=warning --outfile="$out/_intent/consent.js"
echo "built $out"
