#!/usr/bin/env bash
# `make lint`: every crate's format, lints and docs, native and wasm32, and the invariants a
# linter can hold:
#   - `cargo fmt`, `cargo clippy -D warnings` for every crate of the workspace, natively (tests
#     and benches included) and for wasm32 where the crate builds there;
#   - no `unwrap`/`expect`/`panic!` outside tests in the crates that opt in to the workspace
#     lints (engine, policy, audience, worker: `[workspace.lints]` in Cargo.toml);
#   - `cargo doc` without warnings;
#   - the engine's dependency tree holds no wasm-bindgen, web-sys, js-sys or worker: it is
#     pure, for every target.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
cargo=${CARGO:-cargo}

"$cargo" fmt --all --check
"$cargo" clippy --workspace --all-targets -- -D warnings
# The crates that build for wasm32, with the rustc flags each ships with. (The engine's tests
# use proptest, which does not build for wasm32; the snippet's run there, in a browser.)
"$cargo" clippy -p intent-engine -p intent-policy -p intent-audience -p intent-bench-wasm -p intent-engine-wasm \
  --target wasm32-unknown-unknown -- -D warnings
"$cargo" clippy -p intent-snippet --all-targets --target wasm32-unknown-unknown -- -D warnings
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$WORKER_WASM_RUSTFLAGS" \
  "$cargo" clippy -p intent-worker --target wasm32-unknown-unknown -- -D warnings
RUSTDOCFLAGS="-D warnings" "$cargo" doc --workspace --no-deps --document-private-items
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$WORKER_WASM_RUSTFLAGS" RUSTDOCFLAGS="-D warnings" \
  "$cargo" doc -p intent-worker --no-deps --target wasm32-unknown-unknown

# Architecture invariant: the engine is pure. Its whole tree, for every target, names none of
# the browser or Workers bindings.
impure=$("$cargo" tree -p intent-engine --target all -e normal,build --prefix none --format '{p}' |
  awk '{print $1}' | sort -u | grep -xE 'wasm-bindgen|web-sys|js-sys|worker' || true)
if [ -n "$impure" ]; then
  echo "lint: the engine depends on $(echo "$impure" | tr '\n' ' ')- it must stay pure (ARCHITECTURE.md)" >&2
  exit 1
fi
echo "lint: ok (fmt, clippy native and wasm32, docs, the engine's dependency tree is pure)"
