#!/usr/bin/env bash
# Builds the worker into worker/build/ (index.js + index_bg.wasm) with worker-build.
# wrangler runs this as the [build] command of wrangler.toml, so `wrangler dev` and
# `wrangler deploy` always serve a fresh build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT/worker"
# The worker's own rustc flags (scripts/env.sh); the snippet is built without them.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$WORKER_WASM_RUSTFLAGS"
# WORKER_NAMES=1 keeps the Rust functions' names in the wasm (its name section), so that a CPU
# profile of the worker (bench/js/handler.mjs) names them instead of `wasm-function[N]`. For
# profiling only: the names cost about a tenth of the bundle, and the code is otherwise the same.
names=()
if [ "${WORKER_NAMES:-0}" = 1 ]; then
  export CARGO_PROFILE_RELEASE_STRIP=false
  names=(--debuginfo)
fi
worker-build --release
# wasm-opt -Oz, run here rather than by worker-build (`wasm-opt = false` in worker/Cargo.toml):
# worker-build always adds `--debuginfo`, which keeps a names section and holds back part of
# -Oz (about 4 KB of the gzipped bundle). The features are the ones worker-build enables (the
# wasm32 defaults and the exception handling of wasm-bindgen's catch wrappers) plus SIMD
# (WORKER_WASM_RUSTFLAGS); nothing newer, so workerd reads every instruction it emits.
# NOTE: -Oz's inlining of functions that have one caller makes the gzipped bundle about 50 KB
# larger than without it (`--one-caller-inline-max-function-size=0`), but it is also what keeps
# the collect call fast (without it a collect call took about a tenth longer in workerd); it stays.
wasm="$ROOT/worker/build/index_bg.wasm"
"$WASM_OPT_BIN" "$wasm" -o "$wasm.opt" -Oz --enable-simd --enable-mutable-globals --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue \
  --enable-reference-types --enable-exception-handling "${names[@]}"
mv "$wasm.opt" "$wasm"
