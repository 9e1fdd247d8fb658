#!/usr/bin/env bash
# Installs what `make fuzz` and `make fuzz-smoke` need, and only what is missing: the nightly
# toolchain (libFuzzer's sanitizer flags are nightly-only) and cargo-fuzz. Safe to rerun: a
# warm machine passes through in well under a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

say() { echo "install-fuzz: $*" >&2; }

if ! rustup toolchain list | grep -q '^nightly'; then
  say "installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (about 2 minutes)"
  cargo install cargo-fuzz --locked
fi
