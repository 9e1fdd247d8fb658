#!/usr/bin/env bash
# Builds the console's engine (crates/engine-wasm) into dist/engine-wasm/:
#   intent_engine_wasm.js        wasm-bindgen's JS glue (ES module; the console's bundle imports it)
#   intent_engine_wasm_bg.wasm   the engine, optimised by wasm-opt for speed: the preview replays
#                                a month of traffic twice on every edit
# The Node tests (crates/engine-wasm/tests/) and scripts/build-console.sh use it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
out=dist/engine-wasm
cargo=${CARGO:-cargo}

# The tools come from scripts/setup.sh: wasm-bindgen-cli at the exact version of the
# wasm-bindgen library in Cargo.lock (else the glue does not match the wasm), and npm's binaryen
# wasm-opt (never Debian's wasm-opt 108: its output fails in Chromium).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
  echo "build-engine-wasm: wasm-bindgen $want is needed; run scripts/setup.sh" >&2
  exit 1
fi
[ -x "$WASM_OPT_BIN" ] || { echo "build-engine-wasm: $WASM_OPT_BIN is missing; run scripts/setup.sh" >&2; exit 1; }

# Built for speed rather than size (the workspace's release profile favours size for the
# snippet and the worker): the console loads once and then replays traffic on every keystroke
# that changes the rules. wasm SIMD is on: every browser a marketer's console runs in has it,
# and the engine's byte scans (memchr) use it. Its own target dir keeps these flags from
# rebuilding the worker's and the snippet's wasm back and forth.
target_dir=target/engine-wasm
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  "$cargo" build --release --target wasm32-unknown-unknown -p intent-engine-wasm \
  --target-dir "$target_dir" --config 'profile.release.opt-level=3' --config 'profile.release.strip=false'
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen "$target_dir/wasm32-unknown-unknown/release/intent_engine_wasm.wasm" \
  --out-dir "$out" --target web --no-typescript --remove-producers-section --omit-default-module-path
"$WASM_OPT_BIN" -O3 --strip-debug --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/intent_engine_wasm_bg.wasm" -o "$out/intent_engine_wasm_bg.wasm"
# The glue is an ES module; Node (the tests) reads it as one without guessing.
echo '{"type": "module"}' >"$out/package.json"
echo "built $out: $(gzip -9 -c "$out/intent_engine_wasm_bg.wasm" | wc -c) B wasm gzipped"
