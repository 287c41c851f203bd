#!/usr/bin/env bash
# Runs everything CI checks: go vet, a gofmt check, the quick benchmark,
# every fuzz target for a few seconds and the whole test suite with the
# race detector. The Matrix tests need dendrite; its binaries are
# installed into ./.tools/bin the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

DENDRITE_VERSION=v0.13.8
TOOLS="$PWD/.tools/bin"
mkdir -p "$TOOLS"

# is_dendrite FILE: FILE is that command built from dendrite $DENDRITE_VERSION.
is_dendrite() {
	[[ -x "$1" ]] && go version -m "$1" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/matrix-org/dendrite[[:space:]]+$DENDRITE_VERSION([[:space:]]|\$)"
}

gobin=$(go env GOBIN)
[[ -n "$gobin" ]] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
missing=()
for bin in dendrite generate-keys generate-config create-account; do
	if is_dendrite "$TOOLS/$bin"; then
		continue
	fi
	# Reuse a build of the same version from GOBIN rather than compile again.
	if is_dendrite "$gobin/$bin"; then
		cp "$gobin/$bin" "$TOOLS/$bin"
		continue
	fi
	missing+=("github.com/matrix-org/dendrite/cmd/$bin@$DENDRITE_VERSION")
done
if ((${#missing[@]})); then
	echo "test.sh: installing dendrite $DENDRITE_VERSION into $TOOLS" >&2
	# dendrite stores its state in SQLite through cgo.
	GOBIN="$TOOLS" CGO_ENABLED=1 go install "${missing[@]}"
fi
export PATH="$TOOLS:$PATH"
export POLICYWIRE_DENDRITE_BIN="$TOOLS"

# goolm is mautrix's pure-Go Olm: the shipped binary encrypts Matrix rooms
# without cgo. Every build and test below uses it; vet also checks the
# build without it.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=goolm"

echo "test.sh: go vet ./... (with and without goolm)" >&2
go vet ./...
GOFLAGS= go vet ./...

echo "test.sh: gofmt -l" >&2
mapfile -t gofiles < <(find . -name '*.go' -not -path './.tools/*' -not -path './.git/*')
unformatted=$(gofmt -l "${gofiles[@]}")
if [[ -n "$unformatted" ]]; then
	echo "test.sh: these files need gofmt (run make fmt):" >&2
	echo "$unformatted" >&2
	exit 1
fi

# The offline benchmark, reduced: it fails when the pipeline misbehaves (an
# alert missing or doubled, a 304 cycle that alerts); its figures are not
# checked here. BENCHMARKS.md holds a full run.
echo "test.sh: policywire bench --quick" >&2
go build -o "$TOOLS/policywire" ./cmd/policywire
"$TOOLS/policywire" bench --quick

# Every fuzz target for a few seconds, so that inputs beyond the seeds are
# tried on each run. A failing input fails the run and is kept in the
# package's testdata/fuzz/ (go test then runs it as a seed every time).
# TEST_FUZZTIME sets the time per target; 0 skips the step.
fuzztime=${TEST_FUZZTIME:-3s}
if [[ "$fuzztime" != 0 ]]; then
	echo "test.sh: scripts/fuzz.sh $fuzztime" >&2
	scripts/fuzz.sh "$fuzztime"
fi

# go test comes last, so that its summary closes the output.
echo "test.sh: go test -race -count=1 -timeout 20m ./..." >&2
go test -race -count=1 -timeout 20m ./...
