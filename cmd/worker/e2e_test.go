package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

// rig is a simulator, a fresh Redis database and a config file for worker processes.
type rig struct {
	sim     *vendorsim.Sim
	arrived *arrivals
	cfgPath string
	dir     string
	prod    *producer.Producer
	in      *asynq.Inspector
}

func newRig(t testing.TB, sc vendorsim.Config, over map[string]itest.Endpoint) *rig {
	t.Helper()
	r, _ := newRigBehind(t, sc, over, nil)
	return r
}

// newRigBehind is newRig with the simulator behind wrap as well (nil:
// none); it also returns the producer's asynq client.
func newRigBehind(t testing.TB, sc vendorsim.Config, over map[string]itest.Endpoint, wrap func(http.Handler) http.Handler) (*rig, *asynq.Client) {
	t.Helper()
	sim := vendorsim.New(sc)
	arr := &arrivals{}
	h := arr.wrap(sim)
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	rurl := srv.URL(srv.FreshDB(t))
	dir := t.TempDir()
	cfgPath := itest.WriteConfig(t, dir, rurl, hs.URL, over)
	cfg, err := config.Load(config.Options{Path: cfgPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := redisconn.Parse(rurl)
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })
	cl := asynq.NewClientFromRedisClient(rdb)
	return &rig{sim: sim, arrived: arr, cfgPath: cfgPath, dir: dir, prod: producer.New(cfg, cl, rdb), in: in}, cl
}

// worker starts one worker process; it is killed when the test ends.
func (r *rig) worker(t testing.TB, name string) *exec.Cmd {
	t.Helper()
	bin := itest.Binary(t, "worker")
	logf, err := os.Create(filepath.Join(r.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", r.cfgPath, "--log-format", "json", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log (tail):\n%s", name, tail(string(b), 3000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (r *rig) enqueue(t testing.TB, ep, table, prefix string, n int) {
	t.Helper()
	items := make([]producer.Item, 0, n)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%s-%d", prefix, i)
		task, err := r.prod.PrepareRecord(tasks.RecordCreate{Endpoint: ep, Table: table, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, producer.Item{Task: task, Endpoint: ep, Key: key})
	}
	if _, _, err := r.prod.EnqueueBatch(context.Background(), items); err != nil {
		t.Fatal(err)
	}
}

// Three worker processes share a 5/s baibaoyun endpoint (README "How it works": shared limits).
func TestThreeProcessesShareFivePerSecond(t *testing.T) {
	t.Parallel()
	const n = 200
	r := newRig(t, vendorsim.DefaultConfig(), map[string]itest.Endpoint{"forms": {Rate: 5, Concurrency: 10}})
	r.enqueue(t, "forms", "app/entry", "f", n)
	for i := 0; i < 3; i++ {
		r.worker(t, fmt.Sprintf("w%d", i))
	}
	itest.Eventually(t, 3*time.Minute, func() (bool, string) {
		st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
		return len(st.ByKey) == n, fmt.Sprintf("%d of %d records created", len(st.ByKey), n)
	})
	st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
	span := st.LastAccepted.Sub(st.FirstAccepted).Seconds()
	util := float64(st.Accepted-1) / span / 5
	throttled := float64(st.Codes["4004"]) / float64(st.Calls)
	t.Logf("3 processes, %d tasks at 5/s: calls=%d accepted=%d max_in_any_1s=%d utilisation=%.3f throttled=%.4f duplicates=%d span=%.1fs",
		n, st.Calls, st.Accepted, st.MaxInWindow, util, throttled, st.Duplicates, span)
	t.Logf("tightest 6 consecutive arrivals span %v (a vendor window of 1s refuses the 6th below 1s)", r.arrived.tightest(6))
	if st.MaxInWindow > 5 {
		t.Errorf("the simulator saw %d calls within one second (limit 5)", st.MaxInWindow)
	}
	if util < 0.95 {
		t.Errorf("utilisation %.3f < 0.95", util)
	}
	if throttled > 0.005 {
		t.Errorf("throttled share %.4f > 0.5%%", throttled)
	}
	if st.Duplicates != 0 {
		t.Errorf("%d duplicate records", st.Duplicates)
	}
}

// kill -9 of a worker mid-run, then a new worker: every task is done, none
// lost; only tasks in flight at the kill may reach the vendor twice (their
// lease expires and asynq runs them again).
func TestKill9MidRunLosesNothing(t *testing.T) {
	t.Parallel()
	const n = 200
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 20
	r := newRig(t, sc, map[string]itest.Endpoint{"gjy": {Rate: 20, Concurrency: 10}})
	if err := r.sim.SetFault(vendorsim.TargetDhgjcloud, vendorsim.Fault{Latency: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	r.enqueue(t, "gjy", "/api/records", "k", n)
	a := r.worker(t, "a")
	itest.Eventually(t, time.Minute, func() (bool, string) {
		acc := r.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted
		return acc >= 60, fmt.Sprintf("accepted %d", acc)
	})
	if err := a.Process.Kill(); err != nil { // SIGKILL: no drain, no ack
		t.Fatal(err)
	}
	r.worker(t, "b")
	itest.Eventually(t, 4*time.Minute, func() (bool, string) {
		st := r.sim.Stats()[vendorsim.TargetDhgjcloud]
		ok, msg := itest.Drained(r.in, "gjy")
		return ok && len(st.ByKey) == n, fmt.Sprintf("%d of %d records; %s", len(st.ByKey), n, msg)
	})
	st := r.sim.Stats()[vendorsim.TargetDhgjcloud]
	var twice []string
	for k, c := range st.ByKey {
		if c > 1 {
			twice = append(twice, k)
		}
	}
	sort.Strings(twice)
	t.Logf("kill -9: %d records, %d accepted calls, %d records called twice (in flight at the kill; concurrency 10)", n, st.Accepted, len(twice))
	if len(twice) > 10 {
		t.Errorf("%d records called twice; only the ≤10 in flight may be", len(twice))
	}
}

// dhgjcloud tokens expiring every 3 s under 3 worker processes: about one
// token request per expiry, never a storm.
func TestDhgjTokenExpiryUnderThreeProcesses(t *testing.T) {
	t.Parallel()
	const n = 300
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 20
	sc.Dhgjcloud.TokenTTL = 3 * time.Second
	r := newRig(t, sc, map[string]itest.Endpoint{"gjy": {Rate: 20, Concurrency: 8}})
	r.enqueue(t, "gjy", "/api/records", "d", n)
	start := time.Now()
	for i := 0; i < 3; i++ {
		r.worker(t, fmt.Sprintf("w%d", i))
	}
	itest.Eventually(t, 2*time.Minute, func() (bool, string) {
		st := r.sim.Stats()[vendorsim.TargetDhgjcloud]
		return len(st.ByKey) == n, fmt.Sprintf("%d of %d records", len(st.ByKey), n)
	})
	elapsed := time.Since(start).Seconds()
	st := r.sim.Stats()[vendorsim.TargetDhgjcloud]
	expiries := math.Ceil(elapsed / 3)
	t.Logf("token TTL 3s, 3 processes, %.1fs: %d token requests (≈%v expiries), %d answers 401, %d duplicates",
		elapsed, st.Tokens, expiries, st.Codes["http_401"], st.Duplicates)
	if float64(st.Tokens) > expiries+2 {
		t.Errorf("%d token requests for ≈%v expiries: a storm", st.Tokens, expiries)
	}
	if st.Tokens < 2 {
		t.Errorf("only %d token requests over %.1fs with a 3s TTL", st.Tokens, elapsed)
	}
	if st.Duplicates != 0 {
		t.Errorf("%d duplicate records", st.Duplicates)
	}
}

// arrivals records when each baibaoyun request reached the simulator's
// listener, for diagnosing how much jitter the path from slot to vendor adds.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/app/") {
			a.mu.Lock()
			a.at = append(a.at, time.Now())
			a.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// tightest returns the shortest time spanned by k consecutive arrivals.
func (a *arrivals) tightest(k int) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	best := time.Duration(math.MaxInt64)
	for i := 0; i+k-1 < len(a.at); i++ {
		if d := a.at[i+k-1].Sub(a.at[i]); d < best {
			best = d
		}
	}
	return best
}
