package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// runFast times 1000 tasks on the unthrottled gjy endpoint, optionally
// while 3000 tasks wait on the 5/s forms endpoint.
func runFast(b *testing.B, withBacklog bool) time.Duration {
	b.Helper()
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(b, srv, sc, map[string]itest.Endpoint{"forms": {Rate: 5, Concurrency: 10}, "gjy": {Rate: 100000, Concurrency: 16}})
	if withBacklog {
		e.enqueueMany(b, "forms", "app/entry", "slow", 3000)
	}
	e.enqueueMany(b, "gjy", "/api/records", "fast", 1000)
	start := time.Now()
	w := e.startWorker(b)
	e.drained(b, "gjy", 5*time.Minute)
	took := time.Since(start)
	w.Shutdown()
	return took
}

// BenchmarkIsolation: throughput of an unthrottled endpoint while a 5/s
// endpoint has a 3000-task backlog, against the same endpoint alone, in the
// same run. Reports the ratio (1.0 = no slowdown).
func BenchmarkIsolation(b *testing.B) {
	for i := 0; i < b.N; i++ {
		alone := runFast(b, false)
		with := runFast(b, true)
		b.ReportMetric(1000/alone.Seconds(), "alone_tasks/s")
		b.ReportMetric(1000/with.Seconds(), "with_backlog_tasks/s")
		b.ReportMetric(alone.Seconds()/with.Seconds(), "isolation_ratio")
	}
}

// BenchmarkOverhead: vendorq's handler (bucket slot, classification, dedupe
// marker) against a bare asynq handler making the same vendor call, 6000
// tasks each, one endpoint, same simulator, same concurrency.
func BenchmarkOverhead(b *testing.B) {
	const n = 6000
	only := []string{"forms", "tables", "sms"} // serve gjy alone, as the bare server does
	for i := 0; i < b.N; i++ {
		sc := vendorsim.DefaultConfig()
		sc.Dhgjcloud.Rate = 1 << 30
		// vendorq
		e := newEnv(b, srv, sc, map[string]itest.Endpoint{"gjy": {Rate: 100000, Concurrency: 16}}, only...)
		e.enqueueMany(b, "gjy", "/api/records", "v", n)
		start := time.Now()
		w := e.startWorker(b)
		e.drained(b, "gjy", 5*time.Minute)
		full := time.Since(start)
		w.Shutdown()

		// bare asynq handler, same client and call
		e2 := newEnv(b, srv, sc, map[string]itest.Endpoint{"gjy": {Rate: 100000, Concurrency: 16}}, only...)
		e2.enqueueMany(b, "gjy", "/api/records", "b", n)
		client, err := vendorclient.NewDhgjcloud(vendorclient.DhgjcloudConfig{
			BaseURL: e2.url, ClientID: sc.Dhgjcloud.ClientID, ClientSecret: sc.Dhgjcloud.ClientSecret,
			Redis: e2.rdb, TokenKey: "bare:token",
		})
		if err != nil {
			b.Fatal(err)
		}
		conn, _ := redisconn.Parse(e2.rurl)
		s := asynq.NewServer(conn.Asynq, asynq.Config{Concurrency: 16, Queues: map[string]int{"gjy": 1}, TaskCheckInterval: 50 * time.Millisecond, LogLevel: asynq.FatalLevel})
		mux := asynq.NewServeMux()
		mux.HandleFunc(tasks.TypeRecordCreate, func(ctx context.Context, t *asynq.Task) error {
			var p tasks.RecordCreate
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return err
			}
			_, err := client.CreateRecord(ctx, p.Table, p.Data)
			return err
		})
		start = time.Now()
		if err := s.Start(mux); err != nil {
			b.Fatal(err)
		}
		e2.drained(b, "gjy", 5*time.Minute)
		bare := time.Since(start)
		s.Shutdown()
		b.ReportMetric(float64(n)/bare.Seconds(), "bare_tasks/s")
		b.ReportMetric(float64(n)/full.Seconds(), "vendorq_tasks/s")
		b.ReportMetric(bare.Seconds()/full.Seconds(), "throughput_ratio")
	}
}
