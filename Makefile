# Tasks as code. `make dev` serves the demo site and API; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help test test-engine lint bench

help:
	@echo "make dev    - install what is missing, build, serve demo site + API on http://127.0.0.1:8787"
	@echo "make test   - every test: engine, CLI, worker on workerd, snippet in Chromium"
	@echo "make bench  - benchmarks against the budgets (not part of make test)"

test: test-engine

# Engine and CLI: format, lints on native and wasm32, unit/golden/property tests, wasm32 build.
test-engine: lint
	$(CARGO) test -p intent-engine -p intentctl
	$(CARGO) build -p intent-engine --target wasm32-unknown-unknown

# Benchmarks print per-call p50/p99 tables; figures land in target/bench/.
bench:
	$(CARGO) bench -p intent-engine --bench classify

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy -p intent-engine -p intentctl --all-targets -- -D warnings
	$(CARGO) clippy -p intent-engine --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p intent-engine -p intentctl --no-deps
