#!/usr/bin/env bash
# Runs every Fuzz* target of every package for a while each.
# Usage: scripts/fuzz.sh [DURATION]   (default 60s)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-60s}
status=0
for pkg in $(go list ./...); do
	targets=$(go test -list 'Fuzz.*' "$pkg" | grep '^Fuzz' || true)
	for target in $targets; do
		echo "fuzz.sh: $pkg $target for $fuzztime" >&2
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			status=1
		fi
	done
done
exit $status
