#!/usr/bin/env bash
# `make dev`: install what is missing, build the snippet, the console, the site and the worker, seed the
# local KV with the built-in default rules, and serve everything on http://127.0.0.1:8787
# with wrangler's local workerd. Nothing leaves the machine: no telemetry, no remote KV.
#
#   PORT=8788 scripts/dev.sh      serve on another port
#   RESET_RULES=1 scripts/dev.sh  replace the local rules with the defaults again
#   CONSENT=required scripts/dev.sh  the demo as a site that requires consent, with its banner:
#                                    the worker's CONSENT var (the edge's side) and the tags of
#                                    the built pages (scripts/build-site.sh, the snippet's side)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

PORT="${PORT:-8787}"
DEFAULT_RULES=crates/engine/src/default_rules.json

scripts/setup.sh

if [ -x scripts/build-snippet.sh ]; then
  scripts/build-snippet.sh || echo "dev: the snippet build failed; serving without /intent.js" >&2
fi
scripts/build-console.sh || echo "dev: the console build failed; serving without /admin/" >&2
scripts/build-site.sh

# Seed the rules once; later runs keep what was published locally (RESET_RULES=1 resets).
if [ -n "${RESET_RULES:-}" ] || ! wrangler kv key list --local --binding=RULES 2>/dev/null | grep -q '"name": "rules"'; then
  echo "dev: seeding local KV key 'rules' with $DEFAULT_RULES" >&2
  wrangler kv key put --local --binding=RULES rules --path "$DEFAULT_RULES" >/dev/null
fi

# wrangler runs the [build] command (scripts/build-worker.sh) before it serves. The queue, the
# audience store (SQLite Durable Object) and its alarms run locally as deployed;
# `--test-scheduled` serves /__scheduled?cron=0+6+*+*+1 to run the cron trigger by hand.
exec wrangler dev --local --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false --test-scheduled \
  --var "CONSENT:${CONSENT:-implied}"
