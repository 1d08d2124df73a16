# Set-up on a fresh machine: `make demo` runs a whole local consortium,
# `make test` runs the tests. Tools are pinned here.
GO            ?= go
BIN           := $(CURDIR)/bin
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
PEOPLE        ?= 100000
IMAGE         ?= mpcq:dev
PODMAN        ?= podman
# VCS stamping is asked for explicitly (a GOFLAGS of -buildvcs=false in the
# environment would drop it): --version names the commit.
BUILDFLAGS    := -buildvcs=auto
# Static binaries for the image: CGO (pg_query_go's parser) linked against
# glibc statically; netgo/osusergo keep glibc's NSS out.
STATICFLAGS   := $(BUILDFLAGS) -trimpath -tags netgo,osusergo -ldflags '-s -w -extldflags "-static"'
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
FUZZTIME      ?= 10s

.PHONY: all build build-static image image-check demo test test-short proto proto-check fuzz bench tools lint

all: build

build:
	$(GO) build $(BUILDFLAGS) -o $(BIN)/ ./cmd/...

build-static:
	CGO_ENABLED=1 $(GO) build $(STATICFLAGS) -o $(BIN)/static/ ./cmd/...
	cp $(CA_BUNDLE) $(BIN)/static/ca-certificates.crt

# The image FROM scratch (Containerfile): nothing is pulled.
image: build-static
	$(PODMAN) build -f Containerfile -t $(IMAGE) .

# Copies the binaries out of the image (no container is run) and runs
# each with --version on the host.
image-check:
	@set -e; dir=$$(mktemp -d); id=$$($(PODMAN) create $(IMAGE)); \
	  $(PODMAN) cp $$id:/usr/local/bin $$dir/; $(PODMAN) rm $$id >/dev/null; \
	  for b in $$dir/bin/*; do $$b --version; done; rm -rf $$dir

demo: build
	$(BIN)/mpcdemo run --people $(PEOPLE)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit tests with the race detector; the end-to-end tests run the daemons as
# processes, and once more with the coordinator and a party in process
# under the race detector.
test: lint
	$(GO) test -race -timeout 20m $$($(GO) list ./... | grep -v /e2e$$)
	$(GO) test -timeout 20m ./e2e
	$(GO) test -race -timeout 20m -run '^TestNoPersonIDReachesTheCoordinator$$' ./e2e
	$(MAKE) fuzz FUZZTIME=1000x

test-short:
	$(GO) test -short ./...

# Every fuzz target of the module, FUZZTIME each (found in the sources, so
# a new target is fuzzed without editing this file). make test gives each
# a count (1000x), not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a duration runs out mid-exec
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //' | sort -u); do \
	    echo "== fuzz $$dir $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done

bench: build
	$(BIN)/mpcdemo bench --people $(PEOPLE)

tools:
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(BIN) $(GO) install $(PROTOC_GEN_GO_GRPC)

# protoc is Debian's protobuf-compiler (3.21.12 on bookworm).
proto: tools
	protoc --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
	  -I proto --go_out=proto --go_opt=paths=source_relative \
	  --go-grpc_out=proto --go-grpc_opt=paths=source_relative proto/mpcq.proto
	mv proto/mpcq.pb.go proto/mpcq_grpc.pb.go proto/mpcqv1/

proto-check: proto
	git diff --exit-code -- proto/ || (echo "generated code in proto/ is stale: run make proto and commit"; exit 1)
