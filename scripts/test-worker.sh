#!/usr/bin/env bash
# The worker's tests: its pure modules natively, its lints on wasm32, the bundle size budget,
# then the integration tests against the real worker under `wrangler dev` (tests/worker/).
# Expects `make worker site` to have run (the Makefile's test-worker target does that).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
cargo=${CARGO:-cargo}

"$cargo" test -p intent-worker
"$cargo" clippy -p intent-worker --all-targets -- -D warnings
"$cargo" clippy -p intent-worker --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS="-D warnings" "$cargo" doc -p intent-worker --no-deps --target wasm32-unknown-unknown

# The whole upload (wasm + JS glue) gzipped, as Cloudflare counts it: at most 1 MiB.
budget=$((1024 * 1024))
wasm_gz=$(gzip -9 -c worker/build/index_bg.wasm | wc -c)
js_gz=$(gzip -9 -c worker/build/index.js | wc -c)
total=$((wasm_gz + js_gz))
printf 'worker bundle: wasm %d B + js %d B = %d B gzipped (budget %d B)\n' "$wasm_gz" "$js_gz" "$total" "$budget"
if [ "$total" -gt "$budget" ]; then
  echo "test-worker: the worker bundle is over its 1 MiB budget" >&2
  exit 1
fi

# One file at a time: each starts its own wrangler dev, and two cores are better spent on one.
node --test --test-concurrency=1 --test-reporter=spec tests/worker/*.test.mjs
