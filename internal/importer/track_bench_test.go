package importer_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/importer"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redistest"
)

// BenchmarkImportTracking is the figure behind BENCHMARKS.md "## Import
// tracking": the same CSV (VQ_TRACK_ROWS rows, default 200,000) imported
// in process with and without its batch (Options.Track), VQ_TRACK_ROUNDS
// times each (default 2) in ABBA order on one throwaway redis-server. It
// reports the median of the per-round rows/s ratios (tracked / untracked),
// the Redis bytes per row that tracking adds (INFO memory used_memory after
// each import, on an emptied database: the batch's rows and counters plus
// the "batch" and "line" fields in every payload), the time of `batch
// status` on the tracked batch (median of 50 batch.Get calls) and the rate
// of `batch report` streaming every row.
//
//	go test -run='^$' -bench='^BenchmarkImportTracking$' -benchtime=1x ./internal/importer/
func BenchmarkImportTracking(b *testing.B) {
	rows := itest.EnvInt(b, "VQ_TRACK_ROWS", 200_000)
	rounds := itest.EnvInt(b, "VQ_TRACK_ROUNDS", 2)
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "orders.csv")
	writeOrders(b, csvPath, rows)
	srv, err := redistest.Start(redistest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 10 * runtime.GOMAXPROCS(0)})
	defer rdb.Close()
	cfg, err := config.Parse([]byte("endpoints:\n  forms:\n    vendor: baibaoyun\n    api_key: bench-key\n"), func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(rdb)
	prod, release := producer.New(cfg, client, rdb).Bulk() // as `enqueue import` does
	defer release()
	ctx := context.Background()

	run := func(track bool) (rate float64, bytes int64, id string) {
		flush(b, rdb)
		before := itest.RedisInfo(b, rdb, "memory", "used_memory")
		f, err := os.Open(csvPath)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		o := importer.Options{Endpoint: "forms", Type: importer.TypeRecord, Table: "app/entry", Format: importer.FormatCSV, Rejects: &importer.RejectFile{Path: filepath.Join(dir, "rejects.jsonl")}}
		if track {
			t, err := batch.Start(ctx, rdb, batch.Meta{Endpoint: "forms", Type: "record:create", Source: csvPath}, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			o.Track, id = t, t.ID()
		}
		start := time.Now()
		sum, err := importer.Run(ctx, f, prod, o)
		elapsed := time.Since(start)
		if err != nil || sum.Enqueued != int64(rows) {
			b.Fatalf("import: %+v %v", sum, err)
		}
		return float64(rows) / elapsed.Seconds(), itest.RedisInfo(b, rdb, "memory", "used_memory") - before, id
	}

	var ratios []float64
	var plainBytes, trackBytes int64
	var took []time.Duration
	var reportRate float64
	// measure times batch status and batch report on the batch just
	// imported (before the next run empties the database).
	measure := func(id string) {
		took = took[:0]
		for range 50 {
			start := time.Now()
			st, err := batch.Get(ctx, rdb, id, time.Now())
			took = append(took, time.Since(start))
			if err != nil || st.Enqueued != int64(rows) {
				b.Fatalf("batch status %+v %v", st, err)
			}
		}
		slices.Sort(took)
		start := time.Now()
		n := 0
		if err := batch.Report(ctx, rdb, id, func(batch.Row) error { n++; return nil }); err != nil || n != rows {
			b.Fatalf("report: %d rows, %v", n, err)
		}
		reportRate = float64(n) / time.Since(start).Seconds()
	}
	for b.Loop() {
		for round := range rounds {
			var untracked, tracked float64
			var id string
			if round%2 == 0 {
				untracked, plainBytes, _ = run(false)
				tracked, trackBytes, id = run(true)
				measure(id)
			} else {
				tracked, trackBytes, id = run(true)
				measure(id)
				untracked, plainBytes, _ = run(false)
			}
			b.Logf("round %d: untracked %.0f rows/s, tracked %.0f rows/s: %.3f×", round+1, untracked, tracked, tracked/untracked)
			ratios = append(ratios, tracked/untracked)
		}
	}
	perRow := float64(trackBytes-plainBytes) / float64(rows)
	b.Logf("%d rows, %d rounds, GOMAXPROCS %d: median tracked/untracked rows/s %.3f (range %.3f-%.3f)", rows, len(ratios), runtime.GOMAXPROCS(0), itest.Median(ratios), slices.Min(ratios), slices.Max(ratios))
	b.Logf("redis: untracked %.0f B/row, tracked %.0f B/row: tracking adds %.1f B/row (target <= 100)", float64(plainBytes)/float64(rows), float64(trackBytes)/float64(rows), perRow)
	b.Logf("batch status on %d rows: median %v, max %v; batch report: %.0f rows/s", rows, took[len(took)/2], took[len(took)-1], reportRate)
	b.ReportMetric(itest.Median(ratios), "tracked/untracked")
	b.ReportMetric(perRow, "B/row-tracking")
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "status-µs")
	b.ReportMetric(reportRate, "report-rows/s")
}
