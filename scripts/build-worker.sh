#!/usr/bin/env bash
# Builds the worker into worker/build/ (index.js + index_bg.wasm) with worker-build.
# wrangler runs this as the [build] command of wrangler.toml, so `wrangler dev` and
# `wrangler deploy` always serve a fresh build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT/worker"
# The worker's own rustc flags (scripts/env.sh); the snippet is built without them.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$WORKER_WASM_RUSTFLAGS"
worker-build --release
