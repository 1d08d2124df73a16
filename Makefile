# Set-up on a fresh machine: `make demo` runs a whole local consortium,
# `make test` runs the tests. Tools are pinned here.
GO            ?= go
BIN           := $(CURDIR)/bin
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
PEOPLE        ?= 100000
FUZZTIME      ?= 10s

.PHONY: all build demo test test-short proto proto-check fuzz bench tools lint

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

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
	$(MAKE) fuzz FUZZTIME=5s

test-short:
	$(GO) test -short ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./mpc
	$(GO) test -run '^$$' -fuzz '^FuzzLocalFromProto$$' -fuzztime $(FUZZTIME) ./internal/wire

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
