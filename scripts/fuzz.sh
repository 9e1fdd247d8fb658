#!/usr/bin/env bash
# Fuzzing, bounded: `scripts/fuzz.sh SECONDS [TARGET...]`. First every file of the committed
# corpus runs through the shared test cases as an ordinary test on stable; then each fuzz
# target runs for SECONDS under libFuzzer. New inputs go to fuzz/target/corpus/<target>
# (never into the committed corpus), crashes to fuzz/artifacts/<target>/, and the log of a
# failed run stays in fuzz/target/logs/. `make fuzz-smoke` and `make fuzz` call this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

secs="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_decode token_round_trip rules collect)

scripts/install-fuzz.sh

# The corpus as tests, on stable. The root target directory is shared so the engine's
# dependencies are not built twice. Not --locked: when the engine gains a dependency,
# fuzz/Cargo.lock takes it in rather than failing the run.
cargo test --manifest-path fuzz/Cargo.toml -p intent-fuzz-cases --test corpus \
  --target-dir target -q

# NOTE: no sanitizer. The engine and the test cases forbid unsafe code, so AddressSanitizer
# would find nothing they can cause, and it makes the build and every run several times
# slower; overflow checks and debug assertions stay on (fuzz/Cargo.toml).
fuzz_flags=(--sanitizer none)
cargo +nightly fuzz build "${fuzz_flags[@]}"

mkdir -p fuzz/target/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus/$t"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  # One log per run: colleagues' `make test` may fuzz the same target at the same time.
  log="fuzz/target/logs/$t.$$.log"
  if ! cargo +nightly fuzz run "${fuzz_flags[@]}" "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t failed; the input is under fuzz/artifacts/$t/, the full log in $log" >&2
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
  echo "fuzz: $t: $runs runs in ${secs}s, $cov, no crash"
  rm -f "$log"
done
