# The one command that runs the tests: make test
GO        ?= go
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# fail a run spuriously with "context deadline exceeded" (golang/go#75804).
FUZZTIME  ?= 50000x
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: test vet lint fmt-check unit fuzz bench bench-smoke build demo mutate mutate-changed

## test: formatting, vet and staticcheck, unit/integration tests with the race detector,
## bounded fuzzing, one pass of every benchmark so none of them rots, the
## container image built and inspected, and mutation testing of the
## critical packages changed since .ci/mutate-base
test: fmt-check lint unit fuzz bench-smoke image-test mutate-changed

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit: kube-tools
	$(GO) test -race -count=1 ./...

## fuzz: run every fuzz target for FUZZTIME executions each (the seed corpus also runs in unit)
fuzz:
	$(GO) test ./internal/inject   -run='^$$' -fuzz='^FuzzRewriterLossless$$' -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/inject   -run='^$$' -fuzz='^FuzzMetaKind$$'         -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/inject   -run='^$$' -fuzz='^FuzzCharsetEnd$$'       -fuzztime=$(FUZZTIME)
	$(GO) test ./config            -run='^$$' -fuzz='^FuzzParse$$'            -fuzztime=$(FUZZTIME)
	$(GO) test ./config            -run='^$$' -fuzz='^FuzzParsePolicy$$'      -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/csp      -run='^$$' -fuzz='^FuzzMerge$$'            -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/token    -run='^$$' -fuzz='^FuzzTokenRequest$$'     -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/token    -run='^$$' -fuzz='^FuzzSessionCookie$$'    -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/encoding -run='^$$' -fuzz='^FuzzNegotiate$$'        -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/encoding -run='^$$' -fuzz='^FuzzNormalize$$'        -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/encoding -run='^$$' -fuzz='^FuzzDecode$$'           -fuzztime=$(FUZZTIME)
	$(GO) test ./internal/maskaudit -run='^$$' -fuzz='^FuzzReport$$'          -fuzztime=$(FUZZTIME)

bench-smoke:
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./...

## bench: micro-benchmarks of the hot paths
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/inject ./internal/encoding

## bench-compare: cobrowse-proxy side by side with nginx sub_filter, a bare
## httputil.ReverseProxy and the upstream itself, on loopback (not in make test;
## installs nginx-light and wrk when missing, as root). docs/performance.md.
## e.g. make bench-compare BENCH_FLAGS="-rounds 1 -proxy-bin /tmp/old -out /tmp/t.md"
.PHONY: bench-compare
bench-compare:
	$(GO) run ./cmd/benchcompare $(BENCH_FLAGS)

# The commit and build date shown by `cobrowse-proxy version` and the image's OCI labels.
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/cobrowse-proxy ./cmd/cobrowse-proxy

## image: the container image (Dockerfile: FROM scratch, so it builds offline)
## from a static binary and the host's CA certificates staged in bin/image/;
## podman (vfs storage, works as root in a container) or a running docker.
IMAGE     ?= ghcr.io/cobrowse-proxy/cobrowse-proxy:latest
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
CONTAINER ?= $(shell if command -v podman >/dev/null 2>&1; then echo podman --storage-driver vfs; \
              elif docker info >/dev/null 2>&1; then echo docker; else echo podman; fi)
.PHONY: image image-test
image:
	@rm -rf bin/image && mkdir -p bin/image
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/image/cobrowse-proxy ./cmd/cobrowse-proxy
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt
	$(CONTAINER) build -f Dockerfile -t $(IMAGE) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(COMMIT) --build-arg CREATED=$(BUILD_DATE) bin/image

## image-test: build the image and check it (numeric user, OCI labels,
## entrypoint, size; runs `version` in it where a runtime works).
## Skipped without podman/docker, a failure under CI=true.
image-test:
	CONTAINER="$(CONTAINER)" IMAGE="$(IMAGE)" VERSION="$(VERSION)" COMMIT="$(COMMIT)" .ci/image-test.sh

demo:
	$(GO) run ./cmd/cobrowse-proxy demo

## lint: go vet and staticcheck (pinned; installed into the module cache by go run)
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: vet
	$(STATICCHECK) ./...

## mutate: mutation testing (gremlins, pinned) on the packages that guard
## security and correctness; fails when a package's efficacy, after the
## mutants its testdata/mutants-equivalent.txt lists, is under MUTATE_GOAL.
## One package: make mutate MUTATE_PKGS=inject
GREMLINS    ?= $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
MUTATE_PKGS ?= inject csp token proxy server encoding
MUTATE_GOAL ?= 90
# In internal/server only the router guards the reserved prefix and hosts:
# every other file of the package is excluded (a new file must be added here).
MUTATE_EXCLUDE_SERVER := ^(server|build|access|accepterr|connlimit|live|shared|policy)\.go$$
# gremlins sets each mutant's timeout from a coverage run that go test would
# otherwise answer from its cache in a fraction of a second: -count=1.
mutate:
	@mkdir -p $(or $(TMPDIR),/tmp)/cobrowse-mutate
	@fail=0; for p in $(MUTATE_PKGS); do \
	  out=$(or $(TMPDIR),/tmp)/cobrowse-mutate/$$p.json; \
	  echo "== mutating internal/$$p"; \
	  ex=""; if [ "$$p" = server ]; then ex='$(MUTATE_EXCLUDE_SERVER)'; fi; \
	  GOFLAGS=-count=1 $(GREMLINS) unleash --silent --timeout-coefficient 10 $${ex:+--exclude-files "$$ex"} -o $$out ./internal/$$p || { echo "gremlins failed on $$p"; fail=1; continue; }; \
	  $(GO) run .ci/mutants.go -name $$p -results $$out -equivalent internal/$$p/testdata/mutants-equivalent.txt -goal $(MUTATE_GOAL) || fail=1; \
	done; exit $$fail

## mutate-changed: make mutate for the packages whose files changed since the
## commit in .ci/mutate-base (the last one at which every package met the
## goal), all of them if that commit is unknown; CI runs this.
mutate-changed:
	@base=$$(cat .ci/mutate-base 2>/dev/null); pkgs=""; \
	if [ -z "$$base" ] || ! git cat-file -e "$$base^{commit}" 2>/dev/null; then \
	  echo "mutate-changed: base $$base unknown here; mutating every package"; pkgs="$(MUTATE_PKGS)"; \
	else for p in $(MUTATE_PKGS); do \
	  if [ -n "$$(git diff --name-only $$base HEAD -- internal/$$p)" ]; then pkgs="$$pkgs $$p"; fi; \
	done; fi; \
	if [ -z "$$pkgs" ]; then echo "mutate-changed: no mutation-tested package changed since $$base"; exit 0; fi; \
	echo "mutate-changed: mutating$$pkgs (changed since $$base)"; \
	$(MAKE) --no-print-directory mutate MUTATE_PKGS="$$pkgs"

## kube-tools: kube-apiserver, etcd and kustomize for internal/kubetest, built
## from the Go module proxy (.ci/kube pins the versions) into .cache/kube/bin;
## a no-op when they are built and current (about 13 min cold on 2 cores).
KUBE_TOOLS_DIR ?= .cache/kube/bin
.PHONY: kube-tools
kube-tools:
	GO=$(GO) .ci/kube/build.sh $(KUBE_TOOLS_DIR)
