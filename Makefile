# Tasks as code. `make dev` serves the demo site and API; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help test test-engine test-bench lint bench dev setup site worker test-worker

help:
	@echo "make dev    - install what is missing, build, serve demo site + API on http://127.0.0.1:8787"
	@echo "make test   - every test: engine, CLI, worker on workerd, snippet and console in Chromium"
	@echo "make bench  - benchmarks against the budgets (not part of make test)"
	@echo "make fuzz   - each fuzz target for 5 minutes (make test runs them for 15 s each)"
	@echo "make lint   - every crate: fmt, clippy native and wasm32, docs, the engine kept pure"

test: test-engine test-worker fuzz-smoke test-snippet size test-bench test-engine-wasm test-e2e test-console

# Engine, policy, audience store and CLI: unit/golden/property tests (the audience store's over
# SQLite), wasm32 builds (after every crate's lints).
test-engine: lint
	$(CARGO) test -p intent-engine -p intent-policy -p intent-audience -p intentctl
	$(CARGO) build -p intent-engine -p intent-audience --target wasm32-unknown-unknown

# Every budget of the brief measured against the peers in one run (bench/run.sh): the native
# criterion benches, the engine as wasm against JSON Logic in Node, sizes, cold start, and a
# bounded loopback load test. Writes docs/PERFORMANCE.md and target/bench/summary.json.
bench:
	bench/run.sh

# The benchmark's JSON Logic converter must keep agreeing with the engine (cheap; no timing).
test-bench: lint
	$(CARGO) test -p intent-bench-wasm

# Every crate: format, clippy (native and wasm32, unwrap/expect/panic denied outside tests in
# the engine, the policy crate and the worker), docs, and the engine's dependency tree checked
# pure (scripts/lint.sh). The test targets depend on it; make runs it once per invocation.
lint:
	scripts/lint.sh

# Install only what is missing, at the pinned versions (wasm target, worker-build,
# wasm-bindgen-cli, the npm tools of package-lock.json, Debian's Chromium).
setup:
	scripts/setup.sh

# dist/site: the demo site (www/) plus the snippet build (dist/snippet/) and the console
# (dist/console/, served at /admin/), the worker's assets.
site: setup snippet console
	scripts/build-site.sh

# dist/console/admin: the marketer's console (console/), bundled by esbuild, with the engine's wasm.
.PHONY: console
console: setup
	scripts/build-console.sh

# worker/build: the worker compiled to wasm by worker-build.
worker: setup
	scripts/build-worker.sh

# Serve the demo site and the API on http://127.0.0.1:8787 (local workerd and KV).
dev:
	scripts/dev.sh

# The worker: native unit tests, bundle budget, integration tests on workerd (after the lints).
test-worker: lint worker site
	scripts/test-worker.sh

# Fuzzing (fuzz/README.md): the committed corpus as stable tests, then each cargo-fuzz target
# for a bounded time. The smoke run is part of `make test`; `make fuzz` runs longer, and
# FUZZ_SECS or FUZZ_TARGETS narrow it (`make fuzz FUZZ_SECS=3600 FUZZ_TARGETS=rules`).
.PHONY: fuzz fuzz-smoke
FUZZ_SMOKE_SECS ?= 15
FUZZ_SECS ?= 300
FUZZ_TARGETS ?=

fuzz-smoke:
	scripts/fuzz.sh $(FUZZ_SMOKE_SECS) $(FUZZ_TARGETS)

fuzz:
	scripts/fuzz.sh $(FUZZ_SECS) $(FUZZ_TARGETS)

# The browser snippet (crates/snippet): dist/snippet/ is the loader, the JS glue and the wasm.
.PHONY: snippet test-snippet size
snippet: setup
	scripts/build-snippet.sh

# The snippet: native unit tests, the browser tests (wasm-bindgen-test in Debian's headless
# Chromium; options in crates/snippet/webdriver.json), then the built loader + glue + wasm
# served over HTTP to headless Chromium, and consent with each consent platform's adapter
# (stand-ins for their JavaScript APIs) and the demo's banner (after every crate's lints).
test-snippet: lint setup snippet
	$(CARGO) test -p intent-snippet
	CHROMEDRIVER=/usr/bin/chromedriver \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	WASM_BINDGEN_TEST_TIMEOUT=60 \
	$(CARGO) test -p intent-snippet --target wasm32-unknown-unknown
	python3 crates/snippet/tests/loader/check.py dist/snippet
	source scripts/env.sh && node --test --test-reporter=spec crates/snippet/tests/consent/*.test.mjs

# Prints the loader's and the whole snippet's raw and gzipped bytes; fails over budget
# (loader <= 1 KiB, loader + glue + wasm <= 12 KiB, gzipped).
size: snippet
	scripts/size-check.sh

# End to end (tests/e2e/): a visitor's journeys in Debian's headless Chromium (playwright-core)
# against the built worker serving the demo site in proxy mode on wrangler's local workerd, on a
# free port with its own local KV. Node 22 (node_modules/.bin, through scripts/env.sh) runs them.
.PHONY: test-e2e
test-e2e: worker site
	source scripts/env.sh && node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec tests/e2e/*.test.mjs

# The console's engine (crates/engine-wasm): wasm-bindgen bindings built into dist/engine-wasm/.
# Its tests load that build in Node 22 and hold it to what intentctl says about the same inputs.
.PHONY: engine-wasm test-engine-wasm
engine-wasm: setup
	scripts/build-engine-wasm.sh

test-engine-wasm: engine-wasm
	$(CARGO) clippy -p intent-engine-wasm --all-targets -- -D warnings
	$(CARGO) clippy -p intent-engine-wasm --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p intent-engine-wasm --no-deps
	$(CARGO) test -p intent-engine-wasm
	source scripts/env.sh && node --test --test-reporter=spec crates/engine-wasm/tests/*.test.mjs

# The console at /admin/ (tests/console/): sign in, break and fix the rules, preview, publish and
# roll back in Debian's headless Chromium against the built worker on wrangler's local workerd.
# Screenshots go to target/console/.
.PHONY: test-console
test-console: worker site
	source scripts/env.sh && node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec tests/console/*.test.mjs
