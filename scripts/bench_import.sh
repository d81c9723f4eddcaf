#!/usr/bin/env bash
# The import benchmark behind BENCHMARKS.md "## Import" on its own (make bench
# runs it with the others). Needs redis-server on PATH and ~1.5 GB of RAM for
# the throwaway Redis. VQ_IMPORT_ROWS, VQ_IMPORT_ROUNDS, VQ_IMPORT_CONCURRENCY
# change the run (defaults 1000000, 3, 16).
set -euo pipefail
go test -run='^$' -bench='^BenchmarkImport1M$' -benchtime=1x -timeout 60m ./internal/importer/
