#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md. Needs redis-server on PATH.
set -euo pipefail
go test -run='^$' -bench=. -benchtime=1x -timeout 60m ./... | tee bench.out
