# The recorder's build. `make run` and `make test` install what is missing first.
GO          ?= go
BIN         := bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS     := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
# -count=1: the tests use Xvfb, FFmpeg and Chromium, which Go's test cache cannot see.
TEST_FLAGS  ?= -race -count=1 -timeout 14m
RUN_ARGS    ?=
# e.g. BENCH_ARGS="--scenes typing --resolutions 1080p"; see `bin/recorder-bench -h`.
BENCH_ARGS  ?=

.PHONY: deps build bench-build run test test-package bench bench-quick lint fmt clean package

deps:
	@./scripts/deps.sh

# recorder-builtin serves the built-in front ends and uploaders as plugin processes; the
# recorder runs it from its own folder. Built without cgo: no plugin process maps FFmpeg.
build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/recorder ./cmd/recorder
	CGO_ENABLED=0 $(GO) build -o $(BIN)/recorder-builtin ./cmd/recorder-builtin
	$(GO) build -o $(BIN)/virtualdisplay ./internal/cmd/virtualdisplay

# Runs the recorder service with the default config until Ctrl-C; with no DISPLAY, on a
# private two-monitor virtual display with moving content. Its admin API (127.0.0.1:9464)
# takes RECORDER_ADMIN_TOKEN from the environment, or this development token when unset.
RECORDER_ADMIN_TOKEN ?= dev-admin-token-not-a-secret
run: build
	RECORDER_ADMIN_TOKEN='$(RECORDER_ADMIN_TOKEN)' $(BIN)/virtualdisplay -- $(BIN)/recorder run --config configs/recorder.yaml $(RUN_ARGS)

test: deps
	$(GO) test $(TEST_FLAGS) ./...

# The package test with a clean Debian 12 root built first when none is cached (about 10
# minutes the first time; then make test runs it too).
test-package: deps
	RECORDER_TEST_PACKAGE=1 $(GO) test -count=1 -timeout 30m -run TestPackageInstallsInCleanDebian12 ./packaging/

# The encoder suite (recorder vs the ffmpeg CLI, every scene × resolution; it prints its time
# estimate first, about 20 minutes on 2 cores), then the service suites, then the fleet
# controller with simulated agents (about 3 minutes). See benchmarks/README.md.
bench: bench-build
	$(BIN)/recorder-bench --out benchmarks/results $(BENCH_ARGS)
	$(GO) run ./benchmarks/cmd/bench -recorder $(BIN)/recorder -out benchmarks/results
	$(GO) run ./benchmarks/fleetbench -out benchmarks/results
	$(GO) run ./benchmarks/cmd/idlebench -recorder $(BIN)/recorder -out benchmarks/results

# The encoder suite's small matrix (1080p idle and typing, one round): about a minute.
bench-quick: bench-build
	$(BIN)/recorder-bench --quick --out benchmarks/results $(BENCH_ARGS)

# The encoder suite is its own binary, next to the recorder it measures, so that the recorder
# carries no benchmark code.
bench-build: build
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/recorder-bench ./benchmarks/cmd/recorder-bench

# The Debian package (packaging/: nfpm.yaml, the systemd units, the maintainer scripts) of
# what `make build` made: $(DEB). nfpm is pinned and run with `go run`, so it stays out of
# the module's go.mod. Untagged trees get a version Debian sorts: 0.0~gitDATE.HASH.
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_VERSION ?= $(shell v=$$(git describe --tags --abbrev=0 2>/dev/null | sed 's/^v//'); \
	[ -n "$$v" ] && git describe --tags 2>/dev/null | sed 's/^v//; s/-\([0-9]*\)-g/+\1.g/' || \
	echo 0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null).$$(git rev-parse --short HEAD 2>/dev/null))
DEB_ARCH    ?= $(shell dpkg --print-architecture)
DEB         ?= $(BIN)/recorder_$(DEB_VERSION)_$(DEB_ARCH).deb
package: build
	BIN='$(BIN)' VERSION='$(DEB_VERSION)' ARCH='$(DEB_ARCH)' $(GO) run $(NFPM) package \
		--config packaging/nfpm.yaml --packager deb --target '$(DEB)'

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

# Regenerates the plugin protocol's Go code under plugins/sdk/internal/proto (the output is
# committed), installing what it needs: protoc from Debian (protobuf-compiler) and the pinned
# Go generators into bin/tools.
PROTO_DIR          := plugins/sdk/internal/proto
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.1
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
TOOLS              := $(CURDIR)/$(BIN)/tools
.PHONY: proto
proto:
	@./scripts/deps.sh protobuf-compiler
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH="$(TOOLS):$$PATH" protoc -I $(PROTO_DIR) \
		--go_out=$(PROTO_DIR) --go_opt=paths=source_relative \
		--go-grpc_out=$(PROTO_DIR) --go-grpc_opt=paths=source_relative \
		$(PROTO_DIR)/recorder/plugin/v1/plugin.proto
