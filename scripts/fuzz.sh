#!/usr/bin/env bash
# Runs every Fuzz* target of every package for a while each, one at a time
# (go test -fuzz takes a single target). A failing input is written by go
# test to the package's testdata/fuzz/TARGET/ and fails the run; from then
# on it is a seed that plain `go test` runs too.
# Usage: scripts/fuzz.sh [DURATION]   (default 60s)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-60s}
status=0
# The targets are found in the test files rather than with `go test -list`,
# which would build every package's tests once more just to list them.
while read -r file target; do
	pkg=$(dirname "$file")
	echo "fuzz.sh: $pkg $target for $fuzztime" >&2
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
		echo "fuzz.sh: $pkg $target FAILED (an input that fails is kept in $pkg/testdata/fuzz/$target/; commit it with the fix)" >&2
		status=1
	fi
done < <(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . |
	grep -v '^./.tools/' | sed -E 's/:func / /' | sort)
exit $status
