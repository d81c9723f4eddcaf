#!/usr/bin/env bash
# Runs each fuzz target (func FuzzXxx in *_test.go) for $FUZZTIME (a count of executions by default).
set -euo pipefail
FUZZTIME=${FUZZTIME:-30000x}   # executions (Nx) or a duration; see the Makefile
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg=./$(dirname "${f#./}")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r name; do
    echo "fuzz $pkg $name ($FUZZTIME)"
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
  done
done
