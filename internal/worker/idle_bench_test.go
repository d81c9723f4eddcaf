package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
	"github.com/vendorq/vendorq/tasks"
)

// idleRig is a worker over n dhgjcloud endpoints (e0000 …) on a Redis of
// its own, so that INFO stats counts this worker's commands alone.
type idleRig struct {
	sim  *vendorsim.Sim
	rdb  redis.UniversalClient
	cfg  *config.Config
	prod *producer.Producer
	w    *worker.Worker
	n    int
}

func newIdleRig(b *testing.B, n int, alwaysOn bool) *idleRig {
	b.Helper()
	rs := redistest.MustStart(b, redistest.Options{})
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	sim := vendorsim.New(sc)
	hs := httptest.NewServer(sim)
	b.Cleanup(hs.Close)
	rurl := rs.URL(0)
	var y strings.Builder
	fmt.Fprintf(&y, "redis:\n  url: %s\nendpoints:\n", rurl)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&y, "  e%04d: {vendor: dhgjcloud, base_url: %q, client_id: %s, client_secret: %s, rate: 1000, concurrency: 2}\n",
			i, hs.URL, sc.Dhgjcloud.ClientID, sc.Dhgjcloud.ClientSecret)
	}
	cfg, err := config.Parse([]byte(y.String()), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	conn, err := redisconn.Parse(rurl)
	if err != nil {
		b.Fatal(err)
	}
	rdb := conn.NewClient()
	b.Cleanup(func() { _ = rdb.Close() })
	w := workertest.StartOn(b, cfg, conn, rdb, worker.Options{Log: zerolog.Nop(), AlwaysOn: alwaysOn, ShutdownTimeout: 5 * time.Second})
	return &idleRig{sim: sim, rdb: rdb, cfg: cfg, prod: producer.New(cfg, asynq.NewClientFromRedisClient(rdb), rdb), w: w, n: n}
}

// idleRate is Redis commands/s over window, measured after warm (the
// servers' and the watcher's start-up writes are over by then).
func (r *idleRig) idleRate(b *testing.B, warm, window time.Duration) float64 {
	b.Helper()
	time.Sleep(warm)
	c0, t0 := itest.RedisInfo(b, r.rdb, "stats", "total_commands_processed"), time.Now()
	time.Sleep(window)
	c1, t1 := itest.RedisInfo(b, r.rdb, "stats", "total_commands_processed"), time.Now()
	return float64(c1-c0-1) / t1.Sub(t0).Seconds() // less our own INFO
}

// pickup enqueues one task on endpoint ep (via the producer, or a plain
// asynq client that writes no wake) and times it until the vendor has it.
func (r *idleRig) pickup(b *testing.B, ep string, plain bool) time.Duration {
	b.Helper()
	before := r.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted
	rc := tasks.RecordCreate{Endpoint: ep, Table: "/api/records", Data: json.RawMessage(`{"a":1}`)}
	start := time.Now()
	if plain {
		t, err := tasks.NewRecordCreateTask(rc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := asynq.NewClientFromRedisClient(r.rdb).Enqueue(t, asynq.Queue(ep)); err != nil {
			b.Fatal(err)
		}
	} else if _, err := r.prod.Record(context.Background(), rc); err != nil {
		b.Fatal(err)
	}
	deadline := start.Add(time.Minute)
	for r.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted == before {
		if time.Now().After(deadline) {
			b.Fatalf("%s: task not picked up within a minute", ep)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// waitIdle waits until ep's server has stopped (the 5 s idle grace).
func (r *idleRig) waitIdle(b *testing.B, ep string) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for slices.Contains(r.w.Running(), ep) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: server still running after a minute", ep)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pickups times k first tasks on k endpoints that have not had one, and
// returns the median and the worst.
func (r *idleRig) pickups(b *testing.B, first, k int, plain bool) (median, worst time.Duration) {
	b.Helper()
	var ds []time.Duration
	for i := 0; i < k; i++ {
		ds = append(ds, r.pickup(b, fmt.Sprintf("e%04d", (first+i*(r.n/k+1))%r.n), plain))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)-1]
}

// BenchmarkIdleEndpoints: Redis commands/s of a worker whose 1, 100 or
// 1,000 endpoints are all idle (INFO stats over 10 s), with the idle
// watcher and, as the baseline in the same run, with every server always
// on; then the pick-up latency of the first task on an idle endpoint, via
// the producer (wake) and via a plain asynq enqueue (sweep).
func BenchmarkIdleEndpoints(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				base := newIdleRig(b, n, true)
				always := base.idleRate(b, 3*time.Second, 10*time.Second)
				am, aw := base.pickups(b, 0, min(n, 5), false)
				base.w.Shutdown()

				r := newIdleRig(b, n, false)
				idle := r.idleRate(b, 3*time.Second, 10*time.Second)
				k := min(n, 5)
				wm, ww := r.pickups(b, 0, k, false)
				// Plain enqueues on other endpoints (with one endpoint the
				// same one, after its server went idle again).
				if n == 1 {
					r.waitIdle(b, "e0000")
				}
				pm, pw := r.pickups(b, 1, min(n, 3), true)
				b.ReportMetric(always, "alwayson_cmds/s")
				b.ReportMetric(idle, "idle_cmds/s")
				b.ReportMetric(always/idle, "cmds_ratio")
				b.ReportMetric(float64(am.Milliseconds()), "alwayson_pickup_ms")
				b.ReportMetric(float64(aw.Milliseconds()), "alwayson_pickup_worst_ms")
				b.ReportMetric(float64(wm.Milliseconds()), "wake_pickup_ms")
				b.ReportMetric(float64(ww.Milliseconds()), "wake_pickup_worst_ms")
				b.ReportMetric(float64(pm.Milliseconds()), "sweep_pickup_ms")
				b.ReportMetric(float64(pw.Milliseconds()), "sweep_pickup_worst_ms")
			}
		})
	}
}
