#!/usr/bin/env bash
# Refreshes the engine's list of free-mail and disposable email domains
# (crates/engine/data/free-mail-domains.txt) from the npm package `free-email-domains`
# (MIT, https://github.com/Kikobeats/free-email-domains), which merges HubSpot's list of free
# email domains with the maintained disposable-email blocklists. An email at one of these domains
# names no account. Usage: scripts/update-free-mail.sh [VERSION]; then review the diff and run
# `cargo test -p intent-engine`.
set -euo pipefail
version="${1:-latest}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "free-email-domains@$version" >/dev/null && tar xzf free-email-domains-*.tgz)
python3 - "$work/package/domains.json" "$root/crates/engine/data/free-mail-domains.txt" <<'PY'
import json, sys
domains = sorted({d.strip().lower() for d in json.load(open(sys.argv[1])) if d.strip()})
bad = [d for d in domains if not d.isascii() or not all(c.isalnum() or c in ".-" for c in d)]
if bad:
    sys.exit(f"unexpected entries: {bad[:5]}")
open(sys.argv[2], "w").write("\n".join(domains) + "\n")
print(f"{len(domains)} domains")
PY
cp "$work/package/LICENSE.md" "$root/crates/engine/data/free-mail-domains.LICENSE.md"
echo "free-email-domains $(node -p "require('$work/package/package.json').version")"
