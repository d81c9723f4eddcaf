package producer

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
)

// BenchmarkDupeCheck is the dedupe pipeline of one import batch (200 keyed
// rows, importer.DefaultBatchSize) as EnqueueBatch sends it, per row:
// "marker" is the check before lanes (the done marker only: the baseline),
// "lanes" the one EXISTS of the marker and the three lanes' task hashes,
// "lanes-split" one EXISTS per key, as on Redis Cluster. BENCHMARKS.md
// "Lanes: the producer's dedupe check" has the ratios.
//
//	go test -run='^$' -bench=DupeCheck -count=5 ./internal/producer/
func BenchmarkDupeCheck(b *testing.B) {
	s := redistest.MustStart(b, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	b.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	const rows = 200
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("imp:%032x", i)
	}
	run := func(b *testing.B, add func(pipe redis.Pipeliner, id string) dupeCheck) {
		cmds := make([]dupeCheck, rows)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			pipe := rdb.Pipeline()
			for i, id := range ids {
				cmds[i] = add(pipe, id)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			for _, c := range cmds {
				if c.found() {
					b.Fatal("found a task that is not there")
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
	}
	b.Run("marker", func(b *testing.B) {
		run(b, func(pipe redis.Pipeliner, id string) dupeCheck {
			return dupeCheck{pipe.Exists(ctx, keys.Dedupe("forms", id))}
		})
	})
	b.Run("lanes", func(b *testing.B) {
		run(b, func(pipe redis.Pipeliner, id string) dupeCheck { return queueDupeChecks(ctx, pipe, "forms", id, false) })
	})
	b.Run("lanes-split", func(b *testing.B) {
		run(b, func(pipe redis.Pipeliner, id string) dupeCheck { return queueDupeChecks(ctx, pipe, "forms", id, true) })
	})
}
