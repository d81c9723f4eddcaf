package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/producer"
)

// floodClients is the load of the finding: 16 clients each sending a
// maximal batch (MaxBatchBytes, MaxBatchItems) at the same moment.
const floodClients = 16

// heapBound is what the default server may add to the heap in use under
// that load: each of its DefaultMaxInFlight bodies is read as a stream,
// one item at a time, so it holds about one batch worth of prepared tasks
// (asynq payloads: ×1); asynq's encoded messages and the Redis client's
// buffers are transient copies of the parts being enqueued (×1 at most);
// the garbage collector lets the heap grow to twice what is live before it
// collects (GOGC=100: ×2). 4 × 16 MiB × 4 = 256 MiB. Measured: about
// 155 MiB; 560 MiB without the bound, 1.3–1.5 GiB when bodies were read
// whole (BENCHMARKS.md, "HTTP API memory").
const heapBound = api.DefaultMaxInFlight * api.MaxBatchBytes * 4

// 16 concurrent maximal batches against the default server: each is either
// served in full (200, every item enqueued) or refused at once (503 with
// Retry-After), and the heap in use stays under heapBound.
func TestConcurrentMaximalBatchesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("16 maximal batches at once")
	}
	r := flood(t, maximalBatch(t), floodClients, func(*api.Options) {})
	t.Logf("%d served, %d refused; heap in use grew by at most %d MiB (bound %d MiB), peak RSS %s",
		r.served, r.refused, r.peakHeap>>20, heapBound>>20, mib(r.peakRSS))
	if r.served == 0 || r.served+r.refused != floodClients {
		t.Fatalf("%d served, %d refused of %d", r.served, r.refused, floodClients)
	}
	if r.peakHeap > heapBound {
		t.Fatalf("heap in use grew by %d MiB, over the %d MiB bound", r.peakHeap>>20, heapBound>>20)
	}
}

// BenchmarkAPIConcurrentBatches is the measurement behind BENCHMARKS.md
// ("HTTP API memory"): the flood of TestConcurrentMaximalBatchesBounded
// against the default server, then against one without the bound
// (MaxInFlight -1), in the same process, on the same redis-server.
//
//	go test -run '^$' -bench BenchmarkAPIConcurrentBatches -benchtime 1x -v ./internal/api/
func BenchmarkAPIConcurrentBatches(b *testing.B) {
	body := maximalBatch(b)
	for range b.N {
		for _, v := range []struct {
			name        string
			maxInFlight int
		}{{"default", 0}, {"unbounded", -1}} {
			r := flood(b, body, floodClients, func(o *api.Options) { o.MaxInFlight = v.maxInFlight })
			b.Logf("%s: %d served, %d refused (503); heap in use +%d MiB; peak RSS %s",
				v.name, r.served, r.refused, r.peakHeap>>20, mib(r.peakRSS))
			b.ReportMetric(float64(r.peakHeap>>20), "heap_MiB_"+v.name)
			if r.peakRSS > 0 {
				b.ReportMetric(float64(r.peakRSS>>20), "rss_MiB_"+v.name)
			}
		}
	}
}

type floodResult struct {
	served, refused int
	peakHeap        uint64 // growth of the heap in use over the run
	peakRSS         uint64 // the process's peak RSS during the run; 0 if unknown
}

// flood starts a server (mod changes its options), sends body from clients
// clients at once and measures the server's process meanwhile. The
// clients, like curl for large bodies, send Expect: 100-continue, so that
// a refused client gets its 503 without sending its body.
func flood(tb testing.TB, body []byte, clients int, mod func(*api.Options)) floodResult {
	tb.Helper()
	db := srv.FreshDB(tb)
	rdb := srv.Client(tb, db)
	o := api.Options{Producer: producer.New(testCfg(tb), asynq.NewClientFromRedisClient(rdb), rdb), Token: token}
	mod(&o)
	s, err := api.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer func() { // 16 MiB per served batch sit in our own redis-server
		if err := rdb.FlushDB(context.Background()).Err(); err != nil {
			tb.Error(err)
		}
	}()
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Minute}

	defer debug.SetGCPercent(debug.SetGCPercent(100)) // heapBound assumes GOGC=100, whatever the environment says
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	base := heapInUse()
	stop := sampleHeap()
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses = make([]int, clients)
		errs     = make([]error, clients)
	)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], errs[i] = postFlood(hc, ts.URL, body)
		}()
	}
	close(start)
	wg.Wait()
	r := floodResult{peakHeap: subFloor(stop(), base), peakRSS: peakRSS()}
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			tb.Errorf("client %d: %v", i, errs[i])
		case st == http.StatusOK:
			r.served++
		default:
			r.refused++
		}
	}
	return r
}

// postFlood sends one batch and checks its answer: 200 with every item
// accepted, or 503 "busy" with Retry-After.
func postFlood(hc *http.Client, base string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/tasks:batch", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var br api.BatchResponse
		if err := json.Unmarshal(b, &br); err != nil {
			return 0, fmt.Errorf("200 with a body that is not a BatchResponse: %w", err)
		}
		if br.Accepted != api.MaxBatchItems {
			return 0, fmt.Errorf("200 with %d accepted: %.200s", br.Accepted, b)
		}
	case http.StatusServiceUnavailable:
		if resp.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte("busy")) {
			return 0, fmt.Errorf("503 without Retry-After or not busy: %s", b)
		}
	default:
		return 0, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

// maximalBatch is MaxBatchItems keyless record tasks (each a new task)
// padded to just under MaxBatchBytes.
func maximalBatch(tb testing.TB) []byte {
	tb.Helper()
	const item = `{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":"%04d","pad":"%s"}}}`
	per := (api.MaxBatchBytes-len(`{"items":[]}`))/api.MaxBatchItems - 1 // 1: the comma
	pad := strings.Repeat("x", per-len(fmt.Sprintf(item, 0, "")))
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := range api.MaxBatchItems {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, item, i, pad)
	}
	b.WriteString(`]}`)
	if b.Len() > api.MaxBatchBytes || b.Len() < api.MaxBatchBytes-4096 {
		tb.Fatalf("batch of %d bytes", b.Len())
	}
	return b.Bytes()
}

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

// heapInUse is runtime.MemStats.HeapInuse (objects, live or not yet swept,
// plus the free room in their spans), read without stopping the world.
func heapInUse() uint64 {
	s := append([]metrics.Sample(nil), heapSamples...)
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// sampleHeap samples heapInUse every millisecond until the returned stop
// is called; stop returns the highest sample.
func sampleHeap() (stop func() uint64) {
	var (
		highest uint64
		done    = make(chan struct{})
		ended   = make(chan struct{})
	)
	go func() {
		defer close(ended)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			highest = max(highest, heapInUse())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-ended
		return highest
	}
}

func subFloor(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// resetPeakRSS restarts the kernel's count of this process's peak RSS
// (Linux; elsewhere peakRSS reports 0).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM of /proc/self/status, in bytes (0 if unknown).
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n uint64) string {
	if n == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
