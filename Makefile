# medgate — the two commands a newcomer needs are `make run` and `make test`.

GO        ?= go
BIN       := bin
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/medgate/medgate/host/internal/daemon.Version=$(VERSION)
# Every plugins/<name>/main.go is a shipped plugin; test/plugins/<name> are test plugins.
PLUGINS      := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
TEST_PLUGINS := $(patsubst test/plugins/%/main.go,%,$(wildcard test/plugins/*/main.go))
DEMO_CONFIG  ?= deploy/demo/medgate.yaml

.PHONY: all build run test test-unit test-services lint bench clean deps proto

all: build

deps:
	$(GO) mod download

## build: the medgate binary and every plugin; prints each plugin's sha256 to pin in medgate.yaml
build: deps
	@mkdir -p $(BIN)/plugins
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/medgate ./host/cmd/medgate
	@for p in $(PLUGINS); do echo "build plugin $$p"; CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/plugins/$$p ./plugins/$$p || exit 1; done
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/medgate-sim ./test/sim/cmd/medgate-sim
	@for p in $(TEST_PLUGINS); do echo "build test plugin $$p"; CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/plugins/$$p ./test/plugins/$$p || exit 1; done
	@echo "built $(BIN)/medgate and $(words $(PLUGINS) $(TEST_PLUGINS)) plugin(s). Their checksums, to pin as plugins[].sha256 in medgate.yaml"
	@echo "once you trust this build (medgate refuses a plugin whose sha256 differs):"
	@cd $(BIN)/plugins && for p in $(PLUGINS) $(TEST_PLUGINS); do printf '  %-12s sha256: %s\n' "$$p" "$$(sha256sum $$p | cut -d' ' -f1)"; done

## run: build, then start medgate with the embedded broker, SQLite, simulators and the demo site
run: build
	@bash deploy/demo/secrets.sh data/secrets
	@bash deploy/demo/checksums.sh $(BIN)/plugins data/plugin-sha256sums $(PLUGINS) $(TEST_PLUGINS)
	@bash deploy/demo/run.sh $(BIN) $(DEMO_CONFIG)

## test: everything, including real Apache Kafka and PostgreSQL (installed and started by the harness)
test: lint test-services
	MEDGATE_REQUIRE_SERVICES=1 $(GO) test -count=1 -timeout 18m ./...

## test-unit: quick iteration; tests that need Kafka or PostgreSQL say why they skip
test-unit:
	$(GO) test -short ./...

## test-faults: the long fault suite (50 host kills and more; the short form runs in `make test`)
.PHONY: test-faults fuzz
test-faults: test-services
	MEDGATE_REQUIRE_SERVICES=1 $(GO) test -count=1 -v -timeout 60m ./test/faults -args -faults.long

## fuzz: every native fuzz target for FUZZTIME each (deploy/testenv/fuzz.sh; their corpora in testdata/fuzz run in `make test`)
FUZZTIME ?= 60s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash deploy/testenv/fuzz.sh

test-services:
	bash deploy/testenv/postgres.sh
	bash deploy/testenv/chromium.sh
	bash deploy/testenv/checkers.sh
	bash deploy/kafka/fetch.sh

## lint: gofmt, go vet, go mod tidy -diff, golangci-lint (pinned, installed into .cache/bin) and the hygiene tests
GOLANGCI_VERSION := v2.15.0
GOLANGCI         := .cache/bin/golangci-lint-$(GOLANGCI_VERSION)

$(GOLANGCI):
	@mkdir -p .cache/bin
	GOBIN=$(CURDIR)/.cache/bin.tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv .cache/bin.tmp/golangci-lint $@ && rmdir .cache/bin.tmp

lint: deps $(GOLANGCI)
	@out=$$(gofmt -l host plugins schemas transforms test 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GOLANGCI) run ./...
	$(GO) test -count=1 ./test/hygiene

## bench: the end-to-end benchmark (real Kafka, medgate, every plugin, the simulators with full crypto), one table in $(BENCH_OUT);
##        BENCH_STORE=postgres runs it on PostgreSQL, BENCH_PROFILE=<dir> records perf profiles of the host and plugins
BENCH_OUT     ?= $(BIN)/bench.txt
BENCHTIME     ?= 3s
BENCH_STORE   ?= sqlite
BENCH_PROFILE ?=
bench:
	bash deploy/kafka/fetch.sh
	@if [ "$(BENCH_STORE)" = postgres ]; then bash deploy/testenv/postgres.sh; fi
	@mkdir -p $(dir $(BENCH_OUT))
	MEDGATE_REQUIRE_SERVICES=1 MEDGATE_BENCH_OUT=$(abspath $(BENCH_OUT)) MEDGATE_BENCH_STORE=$(BENCH_STORE) \
		MEDGATE_BENCH_PROFILE=$(if $(BENCH_PROFILE),$(abspath $(BENCH_PROFILE))) $(GO) test -count=1 -run '^$$' \
		-bench '^BenchmarkMedgate$$' -benchtime $(BENCHTIME) -timeout 20m ./test/bench

## bench-micro: Go micro-benchmarks with allocation counts of the hot paths (SM envelope, platform envelope JSON, validator, transform, store, pipeline, GYU102 in the adapter)
.PHONY: bench-micro
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./plugins/smenvelope ./host/internal/message ./schemas ./transforms ./host/internal/store ./host/internal/pipeline ./plugins/workinjury/adapter

## proto: regenerate the plugin protocol code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
proto:
	cd plugins/sdk/internal/pb && protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto

clean:
	rm -rf $(BIN) data
