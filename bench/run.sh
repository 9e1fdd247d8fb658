#!/usr/bin/env bash
# `make bench`: every budget of the brief, measured in one run, against the peers a user would
# pick instead. Writes target/bench/summary.json and docs/PERFORMANCE.md, prints the table, and
# exits non-zero when a figure misses its budget (the report is written either way).
#
#   1. the engine natively: criterion benches of the full path (crates/engine/benches/classify.rs)
#   2. the engine as wasm in Node against the same rules as JSON Logic (json-logic-js, and
#      json-logic-engine's compiled rules), after checking that all sides agree on a corpus
#   3. sizes of the loader, the snippet and the worker bundle, raw and gzipped; the largest token
#   4. cold start: compiling and instantiating the worker's wasm in Node 22
#   5. the worker's own cost per request inside workerd (a repeat loop, and a CPU profile through
#      workerd's inspector), beside a JavaScript peer
#   6. the worker under `wrangler dev` under load (wrk, loopback only), beside a JavaScript peer:
#      a warm-up, then three alternating rounds, medians
#   7. the audience layer: one store object's ingest of queue batches, a 100,000-member audience
#      listed and exported, a collect call's way to the list, collect with and without the
#      pipeline
#   8. the console: the preview replaying a generated month in headless Chromium's wasm,
#      `intentctl simulate` over the same month natively, the console's first screen and sizes
#   9. triggers: from the collect call that makes a visitor ready to the signed webhook at a
#      local receiver, and webhook deliveries a second (bench/js/triggers.mjs)
#
# BENCH_QUICK=1 shortens every step (for trying the script, not for the figures).
# BENCH_SPEED_VARIANT=0 skips the extra engine builds tuned for speed instead of size.
# BENCH_HANDLER=0 skips the handler benchmark. BENCH_LOAD=0 skips the load test.
# BENCH_AUDIENCES=0 skips the audience layer's benchmark. BENCH_TRIGGERS=0 skips the triggers'
# benchmark. LOAD_SECONDS
# (default 10, at most 30) bounds each wrk run.
set -euo pipefail
# The shared tool setup: Node 22 and wrangler from node_modules/.bin first, wrangler offline,
# the budgets, and the tool versions read from Cargo.lock.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
cargo=${CARGO:-cargo}
target=${CARGO_TARGET_DIR:-target}
out=target/bench
mkdir -p "$out"
quick=${BENCH_QUICK:-0}
step() { printf '\n== %s\n' "$*"; }
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

step "tools"
# What every build needs (Node 22, wrangler, wasm-bindgen at Cargo.lock's version, ...), from
# the one setup script; it installs only what is missing.
scripts/setup.sh
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
  echo "bench: Node $(node --version) is first on PATH; wrangler and the wasm bench need Node 22 (scripts/setup.sh installs it)" >&2
  exit 1
fi
# The peers' own packages, pinned by bench/js/package-lock.json.
lock_sum=$(sha256sum bench/js/package-lock.json | cut -d' ' -f1)
if [ "$(cat bench/js/node_modules/.lock.sha256 2>/dev/null || true)" != "$lock_sum" ]; then
  (cd bench/js && npm ci --ignore-scripts --no-audit --no-fund)
  echo "$lock_sum" >bench/js/node_modules/.lock.sha256
fi
if ! command -v wrk >/dev/null && [ "${BENCH_LOAD:-1}" != 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk ||
    echo "bench: wrk could not be installed; the load test will be reported missing" >&2
fi

step "1. engine, native (criterion + per-call percentiles)"
criterion_args=()
[ "$quick" = 1 ] && criterion_args=(-- --warm-up-time 1 --measurement-time 2)
"$cargo" bench -p intent-engine --bench classify "${criterion_args[@]}"

step "2. engine as wasm against the JSON Logic peers"
"$cargo" run -q -p intent-bench-wasm --bin rules-to-jsonlogic >"$out/default.jsonlogic.json"
"$cargo" run -q -p intent-bench-wasm --bin rules-to-jsonlogic -- --fifty "$out/fifty.json" >"$out/fifty.jsonlogic.json"
# The release profile and rustc flags are the worker's (the hot crates for speed, the rest for
# size, wasm SIMD on), as the engine ships inside the worker.
worker_flags=${WORKER_WASM_RUSTFLAGS:--C target-feature=+simd128}
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$worker_flags" \
  "$cargo" build --release --target wasm32-unknown-unknown -p intent-bench-wasm --lib
wasm-bindgen "$target/wasm32-unknown-unknown/release/intent_bench_wasm.wasm" \
  --target nodejs --no-typescript --out-dir "$out/engine-wasm"
engines=(--engine "intent-engine (wasm)=$ROOT/$out/engine-wasm")
if [ "${BENCH_SPEED_VARIANT:-1}" != 0 ]; then
  # The same engine with everything built for speed, beside the shipped build (whose hot crates
  # are already at opt-level 3, see the root Cargo.toml), in its own target directory so that
  # the shared build cache keeps the shipped artefacts. It shows what the rest of the size
  # tuning costs.
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$worker_flags" \
    "$cargo" build --release --target wasm32-unknown-unknown -p intent-bench-wasm --lib \
    --config 'profile.release.opt-level=3' --target-dir target/bench-speed
  wasm-bindgen target/bench-speed/wasm32-unknown-unknown/release/intent_bench_wasm.wasm \
    --target nodejs --no-typescript --out-dir "$out/engine-wasm-speed"
  engines+=(--engine "intent-engine (wasm, opt-level 3)=$ROOT/$out/engine-wasm-speed")
else
  rm -rf "$out/engine-wasm-speed"
fi
node bench/js/bench.mjs "${engines[@]}" \
  --suite "default:-:$out/default.jsonlogic.json" \
  --suite "50-rule:$out/fifty.json:$out/fifty.jsonlogic.json" \
  --out "$out/wasm-vs-js.json"

step "3. sizes"
# Build the snippet, the worker and the site from the current sources with the owners' scripts
# (incremental: quick when nothing changed), so that sizes, cold start and the load test measure
# what the tree says, never an older build. An artefact that cannot be built is removed and
# reported as missing, never estimated.
if [ -x scripts/build-snippet.sh ]; then
  scripts/build-snippet.sh || { echo "bench: the snippet did not build; reported missing" >&2; rm -rf dist/snippet; }
fi
if [ -x scripts/build-worker.sh ]; then
  scripts/build-worker.sh || { echo "bench: the worker did not build; reported missing" >&2; rm -rf worker/build; }
fi
if [ -x scripts/build-site.sh ]; then
  scripts/build-site.sh || echo "bench: the site did not build" >&2
fi
{
  echo '{'
  first=1
  for f in dist/snippet/intent.js dist/snippet/_intent/intent_snippet.js dist/snippet/_intent/intent_snippet_bg.wasm \
    dist/snippet/_intent/consent.js \
    worker/main.js worker/js/entry.js worker/build/index.js worker/build/index_bg.wasm \
    "$out/engine-wasm/intent_bench_wasm_bg.wasm" \
    "$out/engine-wasm-speed/intent_bench_wasm_bg.wasm"; do
    [ $first = 1 ] || echo ','
    first=0
    if [ -f "$f" ]; then
      # gzip -9 one file at a time, as scripts/size-check.sh and scripts/test-worker.sh count.
      printf '"%s": {"raw": %d, "gzip": %d, "built": "%s"}' "$f" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)" \
        "$(date -u -r "$f" +%Y-%m-%dT%H:%M:%SZ)"
    else
      printf '"%s": null' "$f"
    fi
  done
  echo '}'
} >"$out/sizes.json"
cat "$out/sizes.json"

step "4. cold start of the worker's wasm (Node $(node --version))"
rm -f "$out/coldstart.jsonl"
if [ -f worker/build/index_bg.wasm ]; then
  runs=9
  [ "$quick" = 1 ] && runs=3
  for _ in $(seq "$runs"); do
    # A fresh process each time: nothing compiled is reused.
    node bench/js/coldstart.mjs worker/build/index_bg.wasm | tee -a "$out/coldstart.jsonl"
  done
else
  echo "worker/build/index_bg.wasm is missing: no cold start figure"
fi

step "5. the worker's own cost per request inside workerd, beside its JavaScript peer"
rm -f "$out/handler.json"
if [ "${BENCH_HANDLER:-1}" = 0 ]; then
  echo '{"missing": "skipped (BENCH_HANDLER=0)"}' >"$out/handler.json"
else
  handler_args=()
  [ "$quick" = 1 ] && handler_args=(--rounds 3 --n 200 --profile-requests 3)
  node bench/js/handler.mjs --jsonlogic "$out/default.jsonlogic.json" --out "$out/handler.json" "${handler_args[@]}" ||
    echo "bench: the handler benchmark failed; see $out/handler.json" >&2
fi

step "6. load: the worker and its JavaScript peer under wrangler dev"
rm -f "$out/load.json"
if [ "${BENCH_LOAD:-1}" = 0 ]; then
  echo '{"missing": "skipped (BENCH_LOAD=0)"}' >"$out/load.json"
elif ! command -v wrk >/dev/null; then
  echo '{"missing": "wrk is not installed"}' >"$out/load.json"
else
  secs=${LOAD_SECONDS:-10}
  [ "$quick" = 1 ] && secs=3
  node bench/js/load.mjs --jsonlogic "$out/default.jsonlogic.json" --out "$out/load.json" --seconds "$secs" ||
    echo "bench: the load test failed; see $out/load.json" >&2
fi

step "7. the audience layer: the store's ingest, a 100,000-member audience, pipeline latency"
rm -f "$out/audiences.json"
if [ "${BENCH_AUDIENCES:-1}" = 0 ]; then
  echo '{"missing": "skipped (BENCH_AUDIENCES=0)"}' >"$out/audiences.json"
else
  audience_args=()
  [ "$quick" = 1 ] && audience_args=(--visitors 1000 --calls 2 --members 10000 --trips 5 --n 100 --rounds 1)
  node bench/js/audiences.mjs --out "$out/audiences.json" "${audience_args[@]}" ||
    echo "bench: the audience benchmark failed; see $out/audiences.json" >&2
fi

step "8. the console: preview in headless Chromium's wasm, intentctl simulate natively, sizes"
# A month of a 10,000-visitor site, generated the same on every run (intentctl sample-traffic).
rm -f "$out/console.json" "$out/simulate.jsonl"
if scripts/build-console.sh; then
  "$cargo" build --release -q -p intentctl
  "$target/release/intentctl" sample-traffic --visitors 10000 --days 30 --seed 1 >"$out/month-10k.jsonl"
  runs=7
  [ "$quick" = 1 ] && runs=3
  for _ in $(seq "$runs"); do
    # The last stderr line is the timings: reading (JSON), grouping, replaying, writing.
    "$target/release/intentctl" simulate --events "$out/month-10k.jsonl" --at 2026-11-30T00:00:00Z --timings       2>&1 >/dev/null | sed -n 's/^timings: //p' | tee -a "$out/simulate.jsonl"
  done
  node bench/js/console.mjs --month "$out/month-10k.jsonl" --runs "$runs" --out "$out/console.json" ||
    echo "bench: the console's browser figures failed; reported missing" >&2
  {
    printf '{'
    for f in app.js app.css engine.wasm; do
      [ "$f" = app.js ] || printf ','
      printf '"%s": {"raw": %d, "gzip": %d}' "$f" "$(wc -c <"dist/console/admin/$f")" "$(gzip -9 -c "dist/console/admin/$f" | wc -c)"
    done
    printf '}\n'
  } >"$out/console-sizes.json"
  cat "$out/console-sizes.json"
else
  echo "bench: the console did not build; its figures are reported missing" >&2
fi

step "9. triggers: from a collect call to the webhook, deliveries a second"
rm -f "$out/triggers.json"
if [ "${BENCH_TRIGGERS:-1}" = 0 ]; then
  echo '{"missing": "skipped (BENCH_TRIGGERS=0)"}' >"$out/triggers.json"
else
  trigger_args=()
  [ "$quick" = 1 ] && trigger_args=(--trips 5 --deliveries 1000)
  node bench/js/triggers.mjs --out "$out/triggers.json" "${trigger_args[@]}" ||
    echo "bench: the triggers benchmark failed; see $out/triggers.json" >&2
fi

step "report"
node bench/js/report.mjs --dir "$out" --started "$started" --load-before "$load_before" \
  --markdown docs/PERFORMANCE.md --summary "$out/summary.json"
