# vendorq — run `make help` for the targets.
GO            ?= go
GOLANGCI_VER  ?= v2.6.2
GOLANGCI      ?= $(shell command -v golangci-lint 2>/dev/null || echo "$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)")
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when a -fuzztime duration ends under load (golang/go#75804,
# fixed in Go 1.27); a count has no deadline to race.
FUZZTIME      ?= 30000x

.PHONY: help test unit lint fuzz bench build dev sim tidy

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

test: lint unit fuzz ## the whole suite: lint, race tests on real redis-server, a short fuzz run

unit: ## go test -race ./... (needs redis-server on PATH)
	$(GO) test -race -count=1 -timeout 40m ./...

lint: ## go vet + golangci-lint (.golangci.yml)
	$(GO) vet ./...
	$(GOLANGCI) run ./...

fuzz: ## run every fuzz target for FUZZTIME each
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench: ## benchmarks behind BENCHMARKS.md
	bash scripts/bench.sh

build: ## build the three binaries into ./bin
	$(GO) build -o bin/ ./cmd/...

dev: ## run the worker in dev mode (embedded Redis, simulator, dashboard)
	$(GO) run ./cmd/worker --dev

sim: ## run the vendor simulator on 127.0.0.1:9000
	$(GO) run ./cmd/vendorsim --addr 127.0.0.1:9000
