package itest

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

// Median of v (the mean of the middle two for an even count); v is not
// changed. The benchmarks report medians of per-round figures, because a
// shared machine's load swings more between rounds than the sides differ.
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// EnvInt reads a benchmark's size from the environment variable name
// (def when unset); anything but a positive integer fails tb.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
