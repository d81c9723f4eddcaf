package results_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/results"
)

// BenchmarkResultMemory is the figure behind docs/batches.md "What it
// costs": the Redis memory of one result record (INFO memory used_memory
// before and after writing VQ_RESULT_ROWS, default 100,000, on a throwaway
// redis-server), for a record:create of an import row (a 24-character
// vendor id, a batch and line) and for a one-phone sms:send.
//
//	go test -run='^$' -bench='^BenchmarkResultMemory$' -benchtime=1x ./internal/results/
func BenchmarkResultMemory(b *testing.B) {
	n := 100_000
	srv, err := redistest.Start(redistest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	kinds := map[string]func(i int) results.Record{
		"record": func(i int) results.Record {
			return results.Record{Type: "record:create", VendorID: fmt.Sprintf("6571f0c2a9e1%012d", i), Calls: 1, First: now, Finished: now + 120, Priority: "low", Batch: "k3x9w2m1q8", Line: int64(i + 2)}
		},
		"sms": func(i int) results.Record {
			return results.Record{Type: "sms:send", Phones: []results.Phone{{Phone: "138****0000", MsgID: fmt.Sprintf("%032x", i)}}, Calls: 1, First: now, Finished: now + 80}
		},
	}
	for b.Loop() {
		for _, kind := range []string{"record", "sms"} {
			if err := rdb.FlushDB(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			before := itest.RedisInfo(b, rdb, "memory", "used_memory")
			pipe := rdb.Pipeline()
			for i := range n {
				results.Write(ctx, pipe, "forms", fmt.Sprintf("imp:%032x", i), kinds[kind](i), 7*24*time.Hour)
				if pipe.Len() == 1000 {
					if _, err := pipe.Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
			per := float64(itest.RedisInfo(b, rdb, "memory", "used_memory")-before) / float64(n)
			b.Logf("%s result: %.0f B of Redis per task (%d records; the stored JSON is %d B)", kind, per, n, len(results.Encode(kinds[kind](n))))
			b.ReportMetric(per, "B/"+kind+"-result")
		}
	}
}
