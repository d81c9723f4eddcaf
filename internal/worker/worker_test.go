package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
	"github.com/vendorq/vendorq/tasks"
)

var srv *redistest.Server

func TestMain(m *testing.M) {
	redisconn.RouteLogs(zerolog.Nop())
	redistest.Main(m, &srv)
}

type env struct {
	sim  *vendorsim.Sim
	url  string // simulator
	rurl string // redis
	cfg  *config.Config
	rdb  redis.UniversalClient
	prod *producer.Producer
	in   *asynq.Inspector
	dlq  *dlq.Store
}

// newEnv serves the four test endpoints (but those in skip) from a fresh
// database of s against a new simulator.
func newEnv(t testing.TB, s *redistest.Server, simCfg vendorsim.Config, over map[string]itest.Endpoint, skip ...string) *env {
	t.Helper()
	sim := vendorsim.New(simCfg)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	rurl := s.URL(s.FreshDB(t))
	cfg := itest.Config(t, rurl, hs.URL, over, skip...)
	conn, err := redisconn.Parse(rurl)
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })
	return &env{sim: sim, url: hs.URL, rurl: rurl, cfg: cfg, rdb: rdb, prod: producer.New(cfg, client, rdb), in: in, dlq: dlq.New(rdb)}
}

func (e *env) startWorker(t testing.TB) *worker.Worker {
	t.Helper()
	return e.startWorkerWith(t, worker.Options{ThrottleInitial: 5 * time.Millisecond, ThrottleMax: 50 * time.Millisecond})
}

// startWorkerWith starts a worker of e's config with o, its log, polling
// and drain set for tests; it is shut down when the test ends.
func (e *env) startWorkerWith(t testing.TB, o worker.Options) *worker.Worker {
	t.Helper()
	conn, _ := redisconn.Parse(e.rurl)
	o.Log, o.PollInterval, o.ShutdownTimeout = testLog(t), 50*time.Millisecond, 5*time.Second
	return workertest.Start(t, e.cfg, conn, o)
}

// enqueueMany enqueues n record tasks with keys prefix-i, in parallel batches.
func (e *env) enqueueMany(t testing.TB, ep, table, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	per := (n + 7) / 8
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var items []producer.Item
			for i := w * per; i < (w+1)*per && i < n; i++ {
				key := fmt.Sprintf("%s-%d", prefix, i)
				task, err := e.prod.PrepareRecord(tasks.RecordCreate{Endpoint: ep, Table: table, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Key: key})
				if err != nil {
					errs <- err
					return
				}
				items = append(items, producer.Item{Task: task, Endpoint: ep, Key: key})
			}
			if _, _, err := e.prod.EnqueueBatch(context.Background(), items); err != nil {
				errs <- err
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (e *env) drained(t testing.TB, ep string, timeout time.Duration) {
	t.Helper()
	itest.Eventually(t, timeout, func() (bool, string) { return itest.Drained(e.in, ep) })
}

// 12,000 permanent failures (beyond asynq's 10,000-task archive) become
// 12,000 dead letters, and `enqueue dlq replay` puts every one back.
func TestTwelveThousandPermanentFailuresAllDeadLetteredAndReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(t, srv, sc, map[string]itest.Endpoint{"gjy": {Rate: 100000, Concurrency: 64}})
	if err := e.sim.SetFault(vendorsim.TargetDhgjcloud, vendorsim.Fault{Code: "400"}); err != nil {
		t.Fatal(err)
	}
	const n = 12000
	e.enqueueMany(t, "gjy", "/api/records", "p", n)
	w := e.startWorker(t)
	itest.Eventually(t, 4*time.Minute, func() (bool, string) {
		c, err := e.dlq.Count(context.Background(), "gjy")
		return c == n, fmt.Sprintf("dead letters %d of %d (%v)", c, n, err)
	})
	e.drained(t, "gjy", time.Minute)
	w.Shutdown()

	dir := t.TempDir()
	cfgPath := itest.WriteConfig(t, dir, e.rurl, e.url, nil)
	var out, errb itest.Buffer
	code := enqueuecli.Main(context.Background(), []string{"dlq", "replay", "--config", cfgPath, "--endpoint", "gjy"}, enqueuecli.Env{Stdout: &out, Stderr: &errb})
	if code != 0 || out.String() != fmt.Sprintf("replayed=%d\n", n) {
		t.Fatalf("replay exit %d out %q err %q", code, out.String(), errb.String())
	}
	qi, err := e.in.GetQueueInfo("gjy")
	if err != nil || qi.Pending != n {
		t.Fatalf("after replay %+v %v, want %d pending", qi, err, n)
	}
	if c, _ := e.dlq.Count(context.Background(), "gjy"); c != 0 {
		t.Fatalf("%d dead letters left", c)
	}
}

// SMS to [good, permanently bad, good]: each good phone gets exactly one
// message; the bad phone alone is dead-lettered with the vendor's code.
func TestSMSPartialFailure(t *testing.T) {
	const good1, bad, good2 = "13800000001", "13800000002", "13800000003"
	sc := vendorsim.DefaultConfig()
	sc.Caihcom.BadPhones = []string{bad}
	e := newEnv(t, srv, sc, nil)
	e.startWorker(t)
	res, err := e.prod.SMS(context.Background(), tasks.SMSSend{Endpoint: "sms", Phones: []string{good1, bad, good2}, Content: "您的验证码为：430237。", Sign: "【测试】", Key: "otp-1"})
	if err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, func() (bool, string) {
		c, _ := e.dlq.Count(context.Background(), "sms")
		return c == 1, "no dead letter yet"
	})
	e.drained(t, "sms", 30*time.Second)
	st := e.sim.Stats()[vendorsim.TargetCaihcom]
	for _, ph := range []string{good1, good2} {
		// MsgID is derived from (task id, phone), so the simulator's key is stable.
		if got := countPhone(st.ByKey, ph); got != 1 {
			t.Fatalf("phone %s got %d messages, want 1 (%v)", ph, got, st.ByKey)
		}
	}
	if countPhone(st.ByKey, bad) != 0 {
		t.Fatal("bad phone accepted?")
	}
	entry, err := e.dlq.Get(context.Background(), "sms", res.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	var p tasks.SMSSend
	if err := json.Unmarshal(entry.Payload, &p); err != nil || len(p.Phones) != 1 || p.Phones[0] != bad {
		t.Fatalf("dead letter must hold only the bad phone: %s", entry.Payload)
	}
	if entry.Code == "" || entry.Code == "error" {
		t.Fatalf("dead letter lacks the vendor code: %+v", entry)
	}
	// Replaying it sends to the bad phone again only, never to the good ones.
	if err := e.dlq.Replay(context.Background(), asynq.NewClientFromRedisClient(e.rdb), entry); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, func() (bool, string) {
		c, _ := e.dlq.Count(context.Background(), "sms")
		return c == 1, "replayed task not dead-lettered again"
	})
	e.drained(t, "sms", 30*time.Second)
	st = e.sim.Stats()[vendorsim.TargetCaihcom]
	if countPhone(st.ByKey, good1) != 1 || countPhone(st.ByKey, good2) != 1 {
		t.Fatalf("replay resent to a good phone: %v", st.ByKey)
	}
}

func countPhone(byKey map[string]int, phone string) int {
	n := 0
	for k, v := range byKey {
		if len(k) > len(phone) && k[len(k)-len(phone):] == phone {
			n += v
		}
	}
	return n
}

// Isolation: while 3000 tasks wait on a 5/s endpoint, 1000 tasks on another
// endpoint all finish; the slow backlog has barely moved. (The speed ratio
// is measured by BenchmarkIsolation.)
func TestBacklogDoesNotStarveOtherEndpoint(t *testing.T) {
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(t, srv, sc, map[string]itest.Endpoint{"forms": {Rate: 5, Concurrency: 10}, "gjy": {Rate: 100000, Concurrency: 16}})
	e.enqueueMany(t, "forms", "app/entry", "slow", 3000)
	e.enqueueMany(t, "gjy", "/api/records", "fast", 1000)
	e.startWorker(t)
	e.drained(t, "gjy", 2*time.Minute)
	qi, err := e.in.GetQueueInfo("forms")
	if err != nil {
		t.Fatal(err)
	}
	if left := qi.Pending + qi.Active + qi.Retry + qi.Scheduled; left < 2500 {
		t.Fatalf("forms moved faster than 5/s? %d left", left)
	}
	if acc := e.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted; acc != 1000 {
		t.Fatalf("fast endpoint accepted %d of 1000", acc)
	}
}

// Redis restarted (AOF on) mid-run: the worker reconnects by itself and no
// task is lost.
func TestRedisRestartMidRun(t *testing.T) {
	aof := redistest.MustStart(t, redistest.Options{AOF: true})
	sc := vendorsim.DefaultConfig()
	sc.Dhgjcloud.Rate = 1 << 30
	e := newEnv(t, aof, sc, map[string]itest.Endpoint{"gjy": {Rate: 40, Concurrency: 8}})
	const n = 300
	e.enqueueMany(t, "gjy", "/api/records", "r", n)
	e.startWorker(t)
	itest.Eventually(t, time.Minute, func() (bool, string) {
		a := e.sim.Stats()[vendorsim.TargetDhgjcloud].Accepted
		return a >= 80, fmt.Sprintf("accepted %d", a)
	})
	// Down for two seconds: longer than go-redis's own retries, so the
	// worker sees errors and must reconnect by itself.
	aof.Crash()
	time.Sleep(2 * time.Second)
	if err := aof.Relaunch(); err != nil {
		t.Fatal(err)
	}
	e.drained(t, "gjy", 3*time.Minute)
	st := e.sim.Stats()[vendorsim.TargetDhgjcloud]
	distinct := len(st.ByKey)
	if distinct != n {
		t.Fatalf("%d of %d records reached the vendor", distinct, n)
	}
	if c, _ := e.dlq.Count(context.Background(), "gjy"); c != 0 {
		t.Fatalf("%d dead letters", c)
	}
	t.Logf("redis restart: %d records, %d vendor calls accepted, %d duplicates (tasks in flight at the restart)", n, st.Accepted, st.Duplicates)
}

// testLog shows warnings and errors in the test output (VQ_TEST_LOG=debug shows all).
func testLog(t testing.TB) zerolog.Logger {
	if os.Getenv("VQ_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

// The simulator answers 4004 fifty times in a row to a task whose endpoint
// allows one retry: throttling never burns the retry budget, so it succeeds.
func TestThrottledFiftyTimesAgainstSimulator(t *testing.T) {
	sc := vendorsim.DefaultConfig()
	sc.Baibaoyun.Rate = 100000
	e := newEnv(t, srv, sc, map[string]itest.Endpoint{"forms": {Rate: 1000, Concurrency: 2, MaxRetry: itest.IntPtr(1)}})
	if err := e.sim.SetFault(vendorsim.TargetBaibaoyun, vendorsim.Fault{Code: "4004", Times: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prod.Record(context.Background(), tasks.RecordCreate{Endpoint: "forms", Table: "app/entry", Data: json.RawMessage(`{"a":1}`), Key: "throttled-50"}); err != nil {
		t.Fatal(err)
	}
	e.startWorker(t)
	e.drained(t, "forms", 2*time.Minute)
	st := e.sim.Stats()[vendorsim.TargetBaibaoyun]
	if st.Codes["4004"] != 50 || st.Accepted != 1 {
		t.Fatalf("want 50 × 4004 then success, got %+v", st.Codes)
	}
	if c, _ := e.dlq.Count(context.Background(), "forms"); c != 0 {
		t.Fatalf("%d dead letters", c)
	}
}
