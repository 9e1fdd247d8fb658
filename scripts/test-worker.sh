#!/usr/bin/env bash
# The worker's tests: its pure modules natively, the bundle size budget, then the integration
# tests against the real worker under `wrangler dev` (tests/worker/). Expects `make worker site`
# to have run, and leaves the lints to `make lint` (the Makefile's test-worker does both).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
cargo=${CARGO:-cargo}

"$cargo" test -p intent-worker

# The whole upload (wasm + the JavaScript: the entry, its handlers and the glue) gzipped, as
# Cloudflare counts it (budgets.env), a file at a time.
budget=$WORKER_GZIP_BUDGET
wasm_gz=$(gzip -9 -c worker/build/index_bg.wasm | wc -c)
js_gz=0
for js in worker/main.js worker/js/entry.js worker/build/index.js; do
  js_gz=$((js_gz + $(gzip -9 -c "$js" | wc -c)))
done
total=$((wasm_gz + js_gz))
printf 'worker bundle: wasm %d B + js %d B = %d B gzipped (budget %d B)\n' "$wasm_gz" "$js_gz" "$total" "$budget"
if [ "$total" -gt "$budget" ]; then
  echo "test-worker: the worker bundle is over its $budget-byte budget" >&2
  exit 1
fi

# One file at a time: each starts its own wrangler dev, and two cores are better spent on one.
node --test --test-concurrency=1 --test-reporter=spec tests/worker/*.test.mjs
