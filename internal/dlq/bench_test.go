package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

// BenchmarkDeadLetters1M is BENCHMARKS.md "Dead letters at scale":
// 1,000,000 dead letters over 4 endpoints and 20 codes (every endpoint has
// every code: 12,500 per endpoint and code, 50,000 per code), loaded with
// pipelined add-script calls on a throwaway redis-server of its own. Each
// operation is timed with the indexes and, as the baseline in the same
// run, the way the store answered it before them: a newest-first scan of
// every entry (Store.Scan), filtering in Go. Memory per entry is
// INFO memory used_memory with the indexes and after deleting them.
//
//	go test -run='^$' -bench='^BenchmarkDeadLetters1M$' -benchtime=1x -timeout 60m ./internal/dlq/
//
// VENDORQ_DLQ_BENCH_N changes the count (for a quick look).
func BenchmarkDeadLetters1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("VENDORQ_DLQ_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		benchDeadLetters(b, n)
	}
}

var benchEndpoints = []string{"forms", "tables", "gjy", "sms"}

func benchCode(i int) string { return fmt.Sprintf("%d", 4001+(i/len(benchEndpoints))%20) }

// benchEntry is entry i: endpoint i%4, code (i/4)%20, one dead letter
// every 2.6 s over a month, payload and error of a realistic size.
func benchEntry(i int, base time.Time) Entry {
	ep := benchEndpoints[i%len(benchEndpoints)]
	at := base.Add(time.Duration(i) * 2600 * time.Millisecond)
	p := fmt.Sprintf(`{"endpoint":%q,"table":"app_7f3a/entry_91c2","data":{"name":"客户 %d","company":"上海某某贸易有限公司","amount":%d,"note":"imported from crm export 2026-11","tags":["vip","east"]},"key":"crm-%08d"}`, ep, i, i%9973, i)
	return Entry{
		ID: fmt.Sprintf("crm-%08d", i), Type: tasks.TypeRecordCreate, Endpoint: ep, Class: "permanent", Code: benchCode(i),
		Error:    fmt.Sprintf("baibaoyun: permanent code=%s: 参数错误 field customer_%d is not defined on this form", benchCode(i), i%50),
		Attempts: 1, FirstAttempt: at.Add(-time.Second), LastAttempt: at, Payload: json.RawMessage(p),
	}
}

func median5(f func()) time.Duration {
	var ds []time.Duration
	for range 5 {
		ds = append(ds, timed(f))
	}
	slices.Sort(ds)
	return ds[2]
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func benchDeadLetters(b *testing.B, n int) {
	ctx := context.Background()
	rs := redistest.MustStart(b, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 16})
	defer rdb.Close()
	s := New(rdb)
	base := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)

	// Load: 4 goroutines, each AddMany of 10,000 at a time.
	mem0 := itest.RedisInfo(b, rdb, "memory", "used_memory")
	load := timed(func() {
		var wg sync.WaitGroup
		const chunk = 10_000
		next := make(chan int)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for from := range next {
					es := make([]Entry, 0, chunk)
					for i := from; i < min(from+chunk, n); i++ {
						es = append(es, benchEntry(i, base))
					}
					if err := s.AddMany(ctx, es); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for from := 0; from < n; from += chunk {
			next <- from
		}
		close(next)
		wg.Wait()
	})
	memIndexed := itest.RedisInfo(b, rdb, "memory", "used_memory")
	// Without the indexes: the facet sets and counts deleted.
	for _, ep := range benchEndpoints {
		fs, _, err := s.state(ctx, ep)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			rdb.Del(ctx, keys.DLQFacetPrefix(ep)+f.name)
		}
		rdb.Del(ctx, keys.DLQFacets(ep))
	}
	memPlain := itest.RedisInfo(b, rdb, "memory", "used_memory")

	const code, page = "4007", 50
	one := Filter{Endpoints: []string{"forms"}, Codes: []string{code}}

	// Baseline: the scan (no index).
	scanCount := timed(func() {
		counts := map[string]int64{}
		for _, ep := range benchEndpoints {
			if err := s.Scan(ctx, ep, func(e Entry) error { counts[e.Code]++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if len(counts) != 20 {
			b.Fatalf("scan counted %d codes", len(counts))
		}
	})
	scanPage := func(p int) time.Duration {
		return timed(func() {
			seen, got := 0, 0
			stop := errors.New("stop")
			err := s.Scan(ctx, "forms", func(e Entry) error {
				if e.Code != code {
					return nil
				}
				if seen++; seen > (p-1)*page {
					got++
				}
				if got == page {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) {
				b.Fatalf("scan page %d: %v (got %d)", p, err, got)
			}
		})
	}
	scanFirst, scan100 := scanPage(1), scanPage(100)

	// The indexes: rebuilt by Reindex (what the lazy rebuild costs).
	var reindexed int64
	reindex := timed(func() {
		for _, ep := range benchEndpoints {
			m, err := s.Reindex(ctx, ep)
			if err != nil {
				b.Fatal(err)
			}
			reindexed += m
		}
	})
	if reindexed != int64(n) {
		b.Fatalf("reindexed %d of %d", reindexed, n)
	}
	// The indexed operations take milliseconds on a shared machine: each
	// is the median of 5 runs.
	idxCount := median5(func() {
		if groups, err := s.CountBy(ctx, Filter{}, ByCode); err != nil || len(groups) != 20 {
			b.Fatalf("count by code: %d groups, %v", len(groups), err)
		}
	})
	var cur Cursor
	idxPage := func() time.Duration {
		return timed(func() {
			p, err := s.ListFiltered(ctx, one, cur, page)
			if err != nil || len(p.Entries) != page {
				b.Fatalf("page: %d entries, %v", len(p.Entries), err)
			}
			cur = p.Next
		})
	}
	var walk99 time.Duration
	for range 99 {
		walk99 += idxPage()
	}
	at100 := cur
	idx100 := median5(func() { cur = at100; idxPage() })
	idxFirst := median5(func() { cur = ""; idxPage() })

	// Replay of one code over the four endpoints (50,000 at 1,000,000).
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	want := int64(n / 20)
	var res Bulk
	idxReplay := timed(func() {
		var err error
		if res, err = s.ReplayFilter(ctx, client, Filter{Codes: []string{"4003"}}); err != nil || res.Done != want {
			b.Fatalf("replay: %+v, %v; want %d", res, err, want)
		}
	})
	var scanReplayed int64
	scanReplay := timed(func() {
		for _, ep := range benchEndpoints {
			err := s.Scan(ctx, ep, func(e Entry) error {
				if e.Code != "4004" {
					return nil
				}
				scanReplayed++
				return s.Replay(ctx, client, e)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	if scanReplayed != want {
		b.Fatalf("scan replay: %d of %d", scanReplayed, want)
	}

	perEntry := func(m int64) float64 { return float64(m) / float64(n) }
	ratio := func(base, x time.Duration) string { return fmt.Sprintf("%.0f×", float64(base)/float64(x)) }
	b.Logf("%d dead letters, 4 endpoints × 20 codes: loaded in %v (%.0f/s, AddMany, 4 goroutines)", n, load.Round(time.Millisecond), float64(n)/load.Seconds())
	b.Logf("Redis memory per entry: %.0f B with the indexes, %.0f B without (the indexes: %.0f B, %.0f%%)",
		perEntry(memIndexed-mem0), perEntry(memPlain-mem0), perEntry(memIndexed-memPlain), 100*float64(memIndexed-memPlain)/float64(memPlain-mem0))
	b.Logf("| operation | scan (baseline) | indexed | ratio |")
	b.Logf("| count by code | %v | %v | %s |", scanCount.Round(time.Millisecond), idxCount.Round(time.Microsecond), ratio(scanCount, idxCount))
	b.Logf("| list forms --code %s, page 1 of %d | %v | %v | %s |", code, page, scanFirst.Round(time.Microsecond), idxFirst.Round(time.Microsecond), ratio(scanFirst, idxFirst))
	b.Logf("| list, page 100 | %v | %v | %s |", scan100.Round(time.Millisecond), idx100.Round(time.Microsecond), ratio(scan100, idx100))
	b.Logf("| replay one code (%d entries) | %v | %v | %s |", want, scanReplay.Round(time.Millisecond), idxReplay.Round(time.Millisecond), ratio(scanReplay, idxReplay))
	b.Logf("pages 1-99 walked by cursor: %v in total; reindex of %d entries (the lazy rebuild): %v", walk99.Round(time.Millisecond), n, reindex.Round(time.Millisecond))
	b.ReportMetric(perEntry(memIndexed-mem0), "B/entry")
	b.ReportMetric(perEntry(memIndexed-memPlain), "index-B/entry")
	b.ReportMetric(float64(idxCount.Microseconds()), "count-µs")
	b.ReportMetric(float64(idx100.Microseconds()), "page100-µs")
	b.ReportMetric(idxReplay.Seconds(), "replay-s")
}
