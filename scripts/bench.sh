#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Needs redis-server on PATH.
set -euo pipefail
go test -run='^$' -bench=. -benchtime=1x -timeout 60m ./... | tee bench.out
# HTTP API vs a plain asynq loop (BENCHMARKS.md "## HTTP API") is in the line above; alone, with per-round figures: bash scripts/bench_api.sh
