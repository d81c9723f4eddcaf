#!/usr/bin/env bash
# The HTTP API load test behind BENCHMARKS.md "## HTTP API" on its own, with
# its per-round figures (make bench runs it with the others). Needs
# redis-server on PATH. Bounded: 3 rounds × 8 runs × 20,000 tasks over loopback.
set -euo pipefail
go test -run='^$' -bench='^BenchmarkAPIBatch$' -benchtime=1x -v -timeout 20m ./internal/api/
