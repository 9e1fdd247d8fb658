#!/usr/bin/env bash
# Assembles dist/site/, the worker's static assets: the demo site from www/ with the built
# snippet from dist/snippet/ on top (intent.js and _intent/), and the marketer's console from
# dist/console/ (admin/). A missing snippet or console build is tolerated so the site and the
# worker can be worked on before they exist.
#
#   CONSENT=required scripts/build-site.sh   the demo as a site that requires consent: every
#                                            page's tag gets data-consent="required", which
#                                            also shows the demo's own consent banner
#   SITE_OUT=DIR scripts/build-site.sh       assemble into DIR instead of dist/site
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

out=${SITE_OUT:-dist/site}
staging=$out.tmp
case "${CONSENT:-implied}" in
  implied | required) ;;
  *) echo "build-site: CONSENT must be implied or required, not '$CONSENT'" >&2; exit 1 ;;
esac
rm -rf "$staging"
mkdir -p "$staging"
if [ -d www ]; then
  cp -R www/. "$staging/"
else
  echo "build-site: www/ is missing; serving an empty site" >&2
fi
if [ -f dist/snippet/intent.js ]; then
  cp -R dist/snippet/. "$staging/"
else
  echo "build-site: dist/snippet/ is not built yet (scripts/build-snippet.sh); /intent.js will be 404" >&2
fi
if [ "${CONSENT:-implied}" = required ]; then
  find "$staging" -name '*.html' -exec sed -i \
    's|<script defer src="/intent.js" data-site="demo"></script>|<script defer src="/intent.js" data-site="demo" data-consent="required"></script>|' {} +
fi
# The console comes after the demo's pages are adjusted: it is not a page of the site.
if [ -f dist/console/admin/index.html ]; then
  cp -R dist/console/. "$staging/"
else
  echo "build-site: dist/console/ is not built yet (scripts/build-console.sh); /admin/ will be 404" >&2
fi
# Swap in one step so a running `wrangler dev` never sees a half-copied folder.
rm -rf "$out"
mv "$staging" "$out"
echo "build-site: $(find "$out" -type f | wc -l) files in $out (consent ${CONSENT:-implied})"
