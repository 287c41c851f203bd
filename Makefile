# policywire build and checks. `make test` is what CI runs (.ci/run).

GO       ?= go
VERSION  ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# goolm: mautrix's pure-Go Olm, so Matrix end-to-end encryption needs no cgo.
# Without it the binary builds too, but cannot encrypt.
TAGS     ?= goolm
FUZZTIME ?= 60s
SOAK_DURATION ?= 30m

.PHONY: build test vet fmt fuzz soak

## build: the static binary at bin/policywire
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/policywire ./cmd/policywire

## test: vet, gofmt check and every test with -race (installs dendrite for the Matrix tests)
test:
	./scripts/test.sh

## vet: go vet over every package
vet:
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) vet ./...

## fmt: gofmt every Go file in place
fmt:
	gofmt -w $$(find . -name '*.go' -not -path './.tools/*' -not -path './.git/*')

## fuzz: run each Fuzz* target for FUZZTIME (default 60s)
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## soak: not in CI: SOAK_DURATION (default 30m) of 1,000 sources with flaky chat
## servers, then 100 SIGKILL restarts; figures go in RELIABILITY.md
soak:
	POLICYWIRE_SOAK_DURATION=$(SOAK_DURATION) POLICYWIRE_DENDRITE_BIN=$${POLICYWIRE_DENDRITE_BIN:-$(CURDIR)/.tools/bin} \
		$(GO) test -tags 'soak $(TAGS)' -count=1 -timeout 0 -v -run '^(TestSoak|TestSurvivalCrash)$$' ./e2e/
