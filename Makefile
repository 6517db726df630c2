# The recorder's build. `make run` and `make test` install what is missing first.
GO          ?= go
BIN         := bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
TEST_FLAGS  ?= -race -timeout 14m
RUN_ARGS    ?=

.PHONY: deps build run test bench lint fmt clean

deps:
	@./scripts/deps.sh

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/recorder ./cmd/recorder
	$(GO) build -o $(BIN)/virtualdisplay ./internal/cmd/virtualdisplay

# Records the screen until Ctrl-C; with no DISPLAY, a private two-monitor virtual display with
# moving content.
run: build
	@mkdir -p recordings
	$(BIN)/virtualdisplay -- $(BIN)/recorder record --out recordings/recording-$$(date +%Y%m%d-%H%M%S).mp4 $(RUN_ARGS)

test: deps
	$(GO) test $(TEST_FLAGS) ./...

bench: build
	$(GO) run ./benchmarks/cmd/bench -recorder $(BIN)/recorder -out benchmarks/results

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
