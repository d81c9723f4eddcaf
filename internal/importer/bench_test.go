package importer_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/importer"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

// BenchmarkImport1M is the figure behind BENCHMARKS.md "## Import": it
// imports a generated CSV (1,000,000 rows; VQ_IMPORT_ROWS to change) with
// the built enqueue binary as a child process (so its peak RSS is the
// import's own), and runs in the same process, on the same redis-server, a
// plain concurrent asynq enqueue loop of the same tasks: same payloads, same
// task IDs, same concurrency, built with the tasks constructors, without
// CSV parsing, rejects or dedupe checks. Each side runs VQ_IMPORT_ROUNDS
// times (default 3), in ABBA order; the figure is the median of the
// per-round ratios, because a shared machine's load swings more between
// rounds than the two sides differ. CPU per row (getrusage) is reported too,
// as it barely depends on that load. It also measures Redis memory per
// queued task and per dedupe marker.
//
//	go test -run='^$' -bench=Import1M -benchtime=1x ./internal/importer/
func BenchmarkImport1M(b *testing.B) {
	rows := itest.EnvInt(b, "VQ_IMPORT_ROWS", 1_000_000)
	rounds := itest.EnvInt(b, "VQ_IMPORT_ROUNDS", 3)
	conc := itest.EnvInt(b, "VQ_IMPORT_CONCURRENCY", importer.DefaultConcurrency)
	dir := b.TempDir()
	bin := buildEnqueue(b, dir)
	csvPath := filepath.Join(dir, "orders.csv")
	writeOrders(b, csvPath, rows)
	st, _ := os.Stat(csvPath)

	srv, err := redistest.Start(redistest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	cfgPath := filepath.Join(dir, "vendorq.yaml")
	cfg := "endpoints:\n  forms:\n    vendor: baibaoyun\n    api_key: bench-key\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 10 * runtime.GOMAXPROCS(0)})
	defer rdb.Close()
	ctx := context.Background()

	var ratios, plainRates, importRates []float64
	var rss int64
	var perTask, plainCPU, importCPU float64
	for b.Loop() {
		for round := range rounds {
			// ABBA order, so that drift in the machine's load evens out.
			var plain, imp, pcpu, icpu float64
			var maxrss int64
			runPlain := func() {
				flush(b, rdb)
				plain, pcpu = plainEnqueue(b, rdb, rows, conc)
			}
			runImport := func() {
				flush(b, rdb)
				before := itest.RedisInfo(b, rdb, "memory", "used_memory")
				imp, icpu, maxrss = importChild(b, bin, cfgPath, srv.URL(0), csvPath, rows, conc)
				perTask = float64(itest.RedisInfo(b, rdb, "memory", "used_memory")-before) / float64(rows)
			}
			if round%2 == 0 {
				runPlain()
				runImport()
			} else {
				runImport()
				runPlain()
			}
			b.Logf("round %d: plain asynq %.0f rows/s (%.1f µs CPU/row), import %.0f rows/s (%.1f µs CPU/row): %.2f×; import peak RSS %.1f MiB",
				round+1, plain, pcpu*1e6/float64(rows), imp, icpu*1e6/float64(rows), imp/plain, float64(maxrss)/1024)
			ratios = append(ratios, imp/plain)
			plainRates, importRates = append(plainRates, plain), append(importRates, imp)
			plainCPU, importCPU = plainCPU+pcpu, importCPU+icpu
			rss = max(rss, maxrss)
		}
	}
	flush(b, rdb)
	perMarker := markerMemory(b, ctx, rdb, rows)
	flush(b, rdb)
	ratio := itest.Median(ratios)
	b.Logf("%d rows (%.1f MiB CSV), concurrency %d, GOMAXPROCS %d, %d rounds", rows, float64(st.Size())/(1<<20), conc, runtime.GOMAXPROCS(0), len(ratios))
	b.Logf("median: plain asynq %.0f rows/s, import %.0f rows/s; median of the per-round ratios %.2f (target >= 0.8), range %.2f-%.2f; CPU per row import/plain %.2f; peak RSS %.1f MiB (target <= 150)",
		itest.Median(plainRates), itest.Median(importRates), ratio, slices.Min(ratios), slices.Max(ratios), importCPU/plainCPU, float64(rss)/1024)
	b.Logf("redis memory: %.0f B per queued task (%.0f MiB per million), %.0f B per dedupe marker (%.0f MiB per million)",
		perTask, perTask*1e6/(1<<20), perMarker, perMarker*1e6/(1<<20))
	b.ReportMetric(itest.Median(plainRates), "plain-rows/s")
	b.ReportMetric(itest.Median(importRates), "import-rows/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(importCPU/plainCPU, "cpu-ratio")
	b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	b.ReportMetric(perTask, "B/queued-task")
	b.ReportMetric(perMarker, "B/dedupe-marker")
}

// buildEnqueue builds cmd/enqueue into dir.
func buildEnqueue(b *testing.B, dir string) string {
	bin := filepath.Join(dir, "enqueue")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/vendorq/vendorq/cmd/enqueue").CombinedOutput()
	if err != nil {
		b.Fatalf("go build cmd/enqueue: %v\n%s", err, out)
	}
	return bin
}

// orderData is row i's data object exactly as the import builds it from
// the CSV (columns in header order, every value a string).
func orderData(i int) string {
	return fmt.Sprintf(`{"order_id":"o-%d","customer":"customer %d","city":"Hangzhou","amount":"%d.50","note":"first order of the week"}`, i, i, i*37%1000)
}

func writeOrders(b *testing.B, path string, rows int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "order_id,customer,city,amount,note")
	for i := range rows {
		fmt.Fprintf(w, "o-%d,customer %d,Hangzhou,%d.50,first order of the week\n", i, i, i*37%1000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// plainEnqueue is the baseline: conc goroutines, each building its share of
// the same tasks (same payload and ID as the import's) and enqueueing them.
func plainEnqueue(b *testing.B, rdb redis.UniversalClient, rows, conc int) (rate, cpu float64) {
	client := asynq.NewClientFromRedisClient(rdb)
	ctx := context.Background()
	cpu0 := selfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < rows; i += conc {
				data := orderData(i)
				key := importer.DefaultKey("forms", importer.TypeRecord, "app/entry", data)
				t, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "app/entry", Data: []byte(data), Key: key})
				if err == nil {
					_, err = client.EnqueueContext(ctx, t)
				}
				if err != nil {
					errs <- fmt.Errorf("row %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu = selfCPU() - cpu0
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(rows) / elapsed.Seconds(), cpu
}

// selfCPU is this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var benchSummaryRe = regexp.MustCompile(`enqueued=(\d+) duplicates=(\d+) rejected=(\d+)`)

// importChild runs the built binary and returns rows/s, its CPU seconds
// and its peak RSS (KiB).
func importChild(b *testing.B, bin, cfg, url, csvPath string, rows, conc int) (rate, cpu float64, maxrss int64) {
	cmd := exec.Command(bin, "--config", cfg, "--redis", url, "import", "--endpoint", "forms",
		"--table", "app/entry", "--concurrency", strconv.Itoa(conc), csvPath)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		b.Fatalf("import: %v\nstdout %s\nstderr %s", err, out.String(), errb.String())
	}
	m := benchSummaryRe.FindStringSubmatch(out.String())
	if m == nil || m[1] != strconv.Itoa(rows) {
		b.Fatalf("import summary %q, want enqueued=%d", out.String(), rows)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage for the child")
	}
	cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return float64(rows) / elapsed.Seconds(), cpu, ru.Maxrss // Linux: KiB
}

func flush(b *testing.B, rdb redis.UniversalClient) {
	if err := rdb.FlushDB(context.Background()).Err(); err != nil { // our own throwaway server
		b.Fatal(err)
	}
}

// markerMemory writes one dedupe marker per row the way the worker does
// when a task finishes (SET key "1" EX window) and returns bytes per marker.
func markerMemory(b *testing.B, ctx context.Context, rdb redis.UniversalClient, rows int) float64 {
	before := itest.RedisInfo(b, rdb, "memory", "used_memory")
	pipe := rdb.Pipeline()
	for i := range rows {
		id := tasks.TaskID(importer.DefaultKey("forms", importer.TypeRecord, "app/entry", orderData(i)))
		pipe.Set(ctx, keys.Dedupe("forms", id), "1", 7*24*time.Hour)
		if pipe.Len() == 1000 || i == rows-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	return float64(itest.RedisInfo(b, rdb, "memory", "used_memory")-before) / float64(rows)
}
