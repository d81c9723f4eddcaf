package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// BenchmarkAPIBatch is the bounded load test behind BENCHMARKS.md
// ("HTTP API"): benchTasks record tasks, each with its own key, enqueued
//
//   - by a plain asynq loop (client.Enqueue one by one, tasks built in
//     advance: the floor any producer pays), and by 8 such loops at once;
//   - through POST /v1/tasks:batch over loopback in batches of benchBatch,
//     by one client sending one request at a time, and by 4 clients at
//     once (HTTP, JSON decoding, validation against the config, the dedupe
//     check and per-item answers included).
//
// Every variant starts from an emptied database of the same redis-server.
// The machine may be shared, so each of benchRounds rounds runs the pairs
// in ABBA order (loop, api, api, loop) and the figure is the median of the
// per-round ratios: api/loop (one client vs one loop), api4/loop8
// (concurrent vs concurrent) and cpu_api4/loop8 (CPU of this process per
// task, HTTP client included: steadier than rates on a busy machine).
// Per-round rates are logged (-v).
//
//	go test -run '^$' -bench BenchmarkAPIBatch -benchtime 1x -v ./internal/api/
func BenchmarkAPIBatch(b *testing.B) {
	const benchTasks, benchBatch = 20000, 500
	db := srv.FreshDB(b)
	rdb := srv.Client(b, db)
	ctx := context.Background()
	cfg := testCfg(b)
	client := asynq.NewClientFromRedisClient(rdb)
	s, err := api.New(api.Options{Producer: producer.New(cfg, client, rdb), Token: token})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	recs := make([]tasks.RecordCreate, benchTasks)
	prebuilt := make([]*asynq.Task, benchTasks)
	for i := range recs {
		recs[i] = tasks.RecordCreate{Endpoint: "forms", Table: "app/entry", Data: json.RawMessage(fmt.Sprintf(`{"row":%d,"name":"客户%d","amount":%d}`, i, i, i*7)), Key: fmt.Sprintf("bench-%d", i)}
		if prebuilt[i], err = tasks.NewRecordCreateTask(recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	bodies := make([][]byte, 0, benchTasks/benchBatch)
	for lo := 0; lo < benchTasks; lo += benchBatch {
		var req struct {
			Items []api.BatchItem `json:"items"`
		}
		for _, rc := range recs[lo:min(lo+benchBatch, benchTasks)] {
			t, _ := json.Marshal(rc)
			req.Items = append(req.Items, api.BatchItem{Type: "record", Task: t})
		}
		body, _ := json.Marshal(req)
		bodies = append(bodies, body)
	}
	pending := func() int {
		n, err := rdb.LLen(ctx, "asynq:{forms}:pending").Result()
		if err != nil {
			b.Fatal(err)
		}
		return int(n)
	}
	reset := func() {
		if err := rdb.FlushDB(ctx).Err(); err != nil { // our own server's database
			b.Fatal(err)
		}
	}
	loop := func(workers int) time.Duration {
		reset()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < benchTasks; i += workers {
					if _, err := client.EnqueueContext(ctx, prebuilt[i]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	viaAPI := func(clients int) time.Duration {
		reset()
		hc := ts.Client()
		start := time.Now()
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; i < len(bodies); i += clients {
					if err := postBatch(ctx, hc, ts.URL, bodies[i]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	rate := func(d time.Duration) float64 { return float64(benchTasks) / d.Seconds() }

	const benchRounds = 3
	var seqR, parR, cpuR []float64
	var last [4]float64
	b.ResetTimer()
	for range b.N {
		seqR, parR, cpuR = nil, nil, nil
		for round := range benchRounds {
			var r [4]float64   // loop, api, loop8, api4: tasks/s, mean of the A and B runs
			var cpu [4]float64 // this process's CPU seconds per 1000 tasks, same layout
			for _, step := range []struct {
				slot int
				run  func() time.Duration
			}{
				{0, func() time.Duration { return loop(1) }}, {1, func() time.Duration { return viaAPI(1) }},
				{1, func() time.Duration { return viaAPI(1) }}, {0, func() time.Duration { return loop(1) }},
				{2, func() time.Duration { return loop(8) }}, {3, func() time.Duration { return viaAPI(4) }},
				{3, func() time.Duration { return viaAPI(4) }}, {2, func() time.Duration { return loop(8) }},
			} {
				c0 := cpuSeconds()
				r[step.slot] += rate(step.run()) / 2
				cpu[step.slot] += (cpuSeconds() - c0) / benchTasks * 1000 / 2
				if n := pending(); n != benchTasks {
					b.Fatalf("round %d: %d tasks pending, want %d", round, n, benchTasks)
				}
			}
			b.Logf("round %d: loop %.0f/s, api %.0f/s (%.2fx); loop8 %.0f/s, api4 %.0f/s (%.2fx); CPU ms per 1000 tasks: loop %.0f, api %.0f, loop8 %.0f, api4 %.0f",
				round+1, r[0], r[1], r[1]/r[0], r[2], r[3], r[3]/r[2], cpu[0]*1000, cpu[1]*1000, cpu[2]*1000, cpu[3]*1000)
			seqR, parR = append(seqR, r[1]/r[0]), append(parR, r[3]/r[2])
			cpuR = append(cpuR, cpu[3]/cpu[2])
			last = r
		}
	}
	b.StopTimer()
	b.ReportMetric(itest.Median(seqR), "api/loop")
	b.ReportMetric(itest.Median(parR), "api4/loop8")
	b.ReportMetric(itest.Median(cpuR), "cpu_api4/loop8")
	b.ReportMetric(last[1], "api_tasks/s")
	b.ReportMetric(last[3], "api4_tasks/s")
}

// cpuSeconds is this process's user+system CPU time (client and server
// both run here; redis-server's own CPU is not counted).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// postBatch sends one batch and checks that every item was accepted.
func postBatch(ctx context.Context, hc *http.Client, base string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/tasks:batch", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var br api.BatchResponse
	err = json.NewDecoder(resp.Body).Decode(&br)
	_, _ = io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("batch: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || br.Accepted != len(br.Results) {
		return fmt.Errorf("batch: status %d accepted %d/%d", resp.StatusCode, br.Accepted, len(br.Results))
	}
	return nil
}
