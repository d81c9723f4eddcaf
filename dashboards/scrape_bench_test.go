package dashboards_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/tasks"
)

// BenchmarkMetricsScrape is the figure behind BENCHMARKS.md "Metrics
// scrape": the scrape-time queue series of VQ_SCRAPE_ENDPOINTS endpoints
// (default 1,000; three lanes each), every endpoint with 20 pending tasks
// on its default lane and one in ten with 200 more on its low lane, read
// by the Collector against the way it read them before (a Count per
// endpoint for the dead letters, then asynq's Inspector: Queues, then
// GetQueueInfo of every lane queue that exists), alternated
// over VQ_SCRAPE_ROUNDS rounds (default 5) on one throwaway redis-server.
// Reported: median time per scrape and Redis commands per scrape
// (total_commands_processed, which counts the commands a Lua script runs).
//
//	go test -run='^$' -bench='^BenchmarkMetricsScrape$' -benchtime=1x ./dashboards/
func BenchmarkMetricsScrape(b *testing.B) {
	n := itest.EnvInt(b, "VQ_SCRAPE_ENDPOINTS", 1000)
	rounds := itest.EnvInt(b, "VQ_SCRAPE_ROUNDS", 5)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: srv.FreshDB(b)})
	b.Cleanup(func() { _ = rdb.Close() })
	eps := make([]string, n)
	for i := range eps {
		eps[i] = fmt.Sprintf("ep%04d", i)
	}
	fill(b, rdb, eps)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr, DB: rdb.Options().DB})
	b.Cleanup(func() { _ = insp.Close() })
	store := dlq.New(rdb)
	reg := prometheus.NewRegistry()
	reg.MustRegister(dashboards.NewCollector(store, rdb, eps))

	var before, after []float64
	var cmdsBefore, cmdsAfter float64
	for b.Loop() {
		for range rounds {
			c0 := itest.RedisInfo(b, rdb, "stats", "total_commands_processed")
			start := time.Now()
			pending := inspectorScrape(b, store, insp, eps)
			before = append(before, time.Since(start).Seconds())
			c1 := itest.RedisInfo(b, rdb, "stats", "total_commands_processed")
			start = time.Now()
			got := collectorPending(b, reg)
			after = append(after, time.Since(start).Seconds())
			c2 := itest.RedisInfo(b, rdb, "stats", "total_commands_processed")
			if got != pending || pending != int64(n*20+n/10*200) {
				b.Fatalf("pending: collector %d, inspector %d, want %d", got, pending, n*20+n/10*200)
			}
			cmdsBefore, cmdsAfter = float64(c1-c0-1), float64(c2-c1-1) // less the INFO itself
		}
	}
	mb, ma := itest.Median(before), itest.Median(after)
	b.Logf("%d endpoints (%d lane queues), %d rounds: inspector %.1f ms and %.0f Redis commands per scrape, collector %.1f ms and %.0f commands: %.1fx faster",
		n, 3*n, rounds, mb*1e3, cmdsBefore, ma*1e3, cmdsAfter, mb/ma)
	b.ReportMetric(mb*1e3, "inspector-ms/scrape")
	b.ReportMetric(ma*1e3, "collector-ms/scrape")
	b.ReportMetric(cmdsBefore, "inspector-cmds/scrape")
	b.ReportMetric(cmdsAfter, "collector-cmds/scrape")
	b.ReportMetric(mb/ma, "speedup")
}

// fill puts 20 pending tasks on every endpoint's default lane and 200 on
// the low lane of one endpoint in ten.
func fill(b *testing.B, rdb *redis.Client, eps []string) {
	client := asynq.NewClientFromRedisClient(rdb)
	for i, ep := range eps {
		for k := range 20 {
			enqueue(b, client, ep, tasks.PriorityDefault, k)
		}
		if i%10 == 0 {
			for k := range 200 {
				enqueue(b, client, ep, tasks.PriorityLow, k)
			}
		}
	}
}

func enqueue(b *testing.B, c *asynq.Client, ep string, p tasks.Priority, k int) {
	if _, err := c.Enqueue(asynq.NewTask(tasks.TypeRecordCreate, []byte(`{"endpoint":"`+ep+`"}`)), asynq.Queue(tasks.Queue(ep, p)), asynq.TaskID(fmt.Sprintf("%s-%s-%d", ep, p, k))); err != nil {
		b.Fatal(err)
	}
}

// inspectorScrape reads the dead-letter counts and the queues as the
// Collector did before lanestats.go, and returns the pending tasks it saw.
func inspectorScrape(b *testing.B, store *dlq.Store, insp *asynq.Inspector, eps []string) int64 {
	ctx := context.Background()
	if _, err := store.Endpoints(ctx); err != nil {
		b.Fatal(err)
	}
	for _, ep := range eps {
		if _, err := store.Count(ctx, ep); err != nil {
			b.Fatal(err)
		}
	}
	known, err := insp.Queues()
	if err != nil {
		b.Fatal(err)
	}
	exists := map[string]bool{}
	for _, q := range known {
		exists[q] = true
	}
	var pending int64
	for _, ep := range eps {
		for _, q := range tasks.Queues(ep) {
			if !exists[q] {
				continue
			}
			qi, err := insp.GetQueueInfo(q)
			if err != nil {
				b.Fatal(err)
			}
			pending += int64(qi.Pending)
		}
	}
	return pending
}

// collectorPending scrapes reg and sums vendorq_lane_pending.
func collectorPending(b *testing.B, reg prometheus.Gatherer) int64 {
	fams, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var pending int64
	for _, f := range fams {
		if f.GetName() == dashboards.NameRedisUp && f.GetMetric()[0].GetGauge().GetValue() != 1 {
			b.Fatal("vendorq_redis_up 0 during the scrape")
		}
		if f.GetName() == dashboards.NameLanePending {
			for _, m := range f.GetMetric() {
				pending += int64(m.GetGauge().GetValue())
			}
		}
	}
	return pending
}
