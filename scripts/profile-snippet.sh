#!/usr/bin/env bash
# Where the snippet's wasm bytes go: builds it exactly as scripts/build-snippet.sh does, but
# keeping the function names, into target/snippet-profile/, and prints twiggy's top items
# (`cargo install twiggy` first). Sizes are of the uncompressed wasm; `make size` gives gzip.
#
#   scripts/profile-snippet.sh [N]    the N largest items (default 40)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
command -v twiggy >/dev/null || { echo "profile-snippet: twiggy is missing: cargo install twiggy" >&2; exit 1; }
out=target/snippet-profile
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target wasm32-unknown-unknown \
  -p intent-snippet --target-dir target/snippet
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen target/snippet/wasm32-unknown-unknown/release/intent_snippet.wasm \
  --out-dir "$out" --target web --no-typescript --omit-default-module-path --remove-producers-section
KEEP_NAMES=1 node crates/snippet/build/minify.mjs "$out" "$WASM_OPT_BIN"
twiggy top -n "${1:-40}" "$out/intent_snippet_bg.wasm"
