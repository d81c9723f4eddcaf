package itest

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
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

// RedisInfo reads one integer field of a section of Redis's INFO
// ("memory" used_memory, "stats" total_commands_processed, ...): what the
// benchmarks measure Redis's memory and commands with.
func RedisInfo(tb testing.TB, rdb redis.UniversalClient, section, field string) int64 {
	tb.Helper()
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatalf("INFO %s %s: %v", section, field, err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in INFO %s", field, section)
	return 0
}
