#!/usr/bin/env bash
# Builds the marketer's console into dist/console/admin/, which scripts/build-site.sh puts in
# the worker's static assets (dist/site/admin/), served at /admin/:
#   index.html    the one page (routing is by the URL's hash)
#   app.js        console/src bundled by esbuild: Preact + htm, CodeMirror 6, uPlot, and the
#                 engine's wasm-bindgen glue (dist/engine-wasm, scripts/build-engine-wasm.sh)
#   app.css       console/app.css with uPlot's styles
#   engine.wasm   the engine (crates/engine-wasm)
# Everything comes from npm packages pinned in package-lock.json: nothing is loaded from a CDN.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
out=dist/console/admin

[ -x node_modules/.bin/esbuild ] || { echo "build-console: esbuild is missing; run scripts/setup.sh" >&2; exit 1; }
scripts/build-engine-wasm.sh

rm -rf dist/console
mkdir -p "$out"
node_modules/.bin/esbuild console/src/main.js --bundle --format=esm --minify --target=es2022 \
  --log-level=warning --legal-comments=none --outfile="$out/app.js"
node_modules/.bin/esbuild console/app.css --bundle --minify --log-level=warning --outfile="$out/app.css"
cp console/index.html "$out/index.html"
cp dist/engine-wasm/intent_engine_wasm_bg.wasm "$out/engine.wasm"
printf 'built %s: app.js %d B, app.css %d B, engine.wasm %d B gzipped\n' "$out" \
  "$(gzip -9 -c "$out/app.js" | wc -c)" "$(gzip -9 -c "$out/app.css" | wc -c)" \
  "$(gzip -9 -c "$out/engine.wasm" | wc -c)"
