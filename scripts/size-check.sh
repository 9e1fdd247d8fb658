#!/usr/bin/env bash
# Prints the raw and gzipped bytes of the snippet as it goes on the wire, and fails over budget:
# the loader intent.js at most LOADER_GZIP_BUDGET gzipped (it is on the page's critical path),
# and loader + JS glue + wasm at most SNIPPET_GZIP_BUDGET (budgets.env). Each file is gzipped on its own (gzip -9), as a server
# or CDN would send it. Run scripts/build-snippet.sh first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
dir=${1:-dist/snippet}
loader_budget=$LOADER_GZIP_BUDGET
total_budget=$SNIPPET_GZIP_BUDGET

files=("$dir/intent.js" "$dir/_intent/intent_snippet.js" "$dir/_intent/intent_snippet_bg.wasm")
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "size-check: $f is missing; run scripts/build-snippet.sh" >&2; exit 1; }
done

raw_total=0 gz_total=0 loader_gz=0
printf '%-36s %8s %8s\n' file raw gzip
for f in "${files[@]}"; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  printf '%-36s %8d %8d\n' "${f#"$dir"/}" "$raw" "$gz"
  raw_total=$((raw_total + raw))
  gz_total=$((gz_total + gz))
  [ "$f" = "$dir/intent.js" ] && loader_gz=$gz
done
printf '%-36s %8d %8d\n' "snippet total (loader+glue+wasm)" "$raw_total" "$gz_total"
# Loaded only for a tag with data-consent-from, after the snippet: not on the budget's path.
adapters="$dir/_intent/consent.js"
[ -f "$adapters" ] || { echo "size-check: $adapters is missing; run scripts/build-snippet.sh" >&2; exit 1; }
printf '%-36s %8d %8d\n' "_intent/consent.js (only if asked)" "$(wc -c <"$adapters")" "$(gzip -9 -c "$adapters" | wc -c)"

status=0
if [ "$loader_gz" -gt "$loader_budget" ]; then
  echo "size-check: FAIL loader intent.js is $loader_gz bytes gzipped; budget $loader_budget" >&2
  status=1
fi
if [ "$gz_total" -gt "$total_budget" ]; then
  echo "size-check: FAIL snippet is $gz_total bytes gzipped; budget $total_budget" >&2
  status=1
fi
[ $status -eq 0 ] && echo "size-check: ok (loader $loader_gz / $loader_budget, snippet $gz_total / $total_budget bytes gzipped)"
exit $status
