package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/handlerdeps"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

// script is a fake vendor answering from a list of outcomes, then ok.
type script struct {
	mu    sync.Mutex
	steps []error
	calls int
}

func (s *script) next() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.steps) == 0 {
		return nil
	}
	e := s.steps[0]
	s.steps = s.steps[1:]
	return e
}

func (s *script) CreateRecord(context.Context, string, json.RawMessage) (vendorclient.RecordResult, error) {
	return vendorclient.RecordResult{ID: "1"}, s.next()
}

func (s *script) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func repeat(n int, e error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = e
	}
	return out
}

var (
	throttled = &vendorclient.Error{Vendor: "baibaoyun", Class: vendorclient.ClassThrottled, Code: "4004"}
	transient = &vendorclient.Error{Vendor: "baibaoyun", Class: vendorclient.ClassTransient, Code: "9999"}
	permanent = &vendorclient.Error{Vendor: "baibaoyun", Class: vendorclient.ClassPermanent, Code: "4001", Message: "接口参数不正确"}
	quota     = &vendorclient.Error{Vendor: "baibaoyun", Class: vendorclient.ClassQuota, Code: "4005"}
)

type rig struct {
	rdb     *redis.Client
	client  *asynq.Client
	in      *asynq.Inspector
	dlq     *dlq.Store
	bucket  *ratelimit.Bucket
	metrics *metrics.Metrics
}

// start serves endpoint "forms" with vendor v on a fresh database.
func start(t *testing.T, v vendorclient.RecordCreator, maxRetry int, horizon time.Duration) *rig {
	t.Helper()
	db := srv.FreshDB(t)
	opt := asynq.RedisClientOpt{Addr: srv.Addr, DB: db}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = rdb.Close() })
	pol := handlers.Policy{
		Endpoint: "forms", Vendor: "baibaoyun", Kind: vendorclient.KindRecord, MaxRetry: maxRetry, QuotaPause: 2 * time.Second,
		Horizon: horizon, ThrottleInitial: time.Millisecond, ThrottleMax: 5 * time.Millisecond,
	}
	r := &rig{rdb: rdb, dlq: dlq.New(rdb), bucket: ratelimit.New(rdb, "forms", 1000, 1, ratelimit.Tuning{}), metrics: metrics.New(nil)}
	h, err := handlers.New(handlers.Deps{
		Policy: pol, Records: v, Limiter: handlerdeps.Limiter(r.bucket), DeadLetters: handlerdeps.DeadLetters(r.dlq),
		Redis: rdb, Log: zerolog.Nop(), Metrics: r.metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.client, r.in = serve(t, opt, "forms", tasks.TypeRecordCreate, 2, h)
	return r
}

// serve runs h for taskType on queue with an asynq server that polls fast
// and counts failures as vendorq does, and returns a client and an
// inspector on the same database; all stop when the test ends.
func serve(t testing.TB, opt asynq.RedisClientOpt, queue, taskType string, concurrency int, h asynq.Handler) (*asynq.Client, *asynq.Inspector) {
	t.Helper()
	s := asynq.NewServer(opt, asynq.Config{
		Concurrency: concurrency, Queues: map[string]int{queue: 1}, IsFailure: handlers.IsFailure, RetryDelayFunc: handlers.RetryDelay,
		TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 100 * time.Millisecond, LogLevel: asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(taskType, h)
	if err := s.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	client, in := asynq.NewClient(opt), asynq.NewInspector(opt)
	t.Cleanup(func() { _ = client.Close(); _ = in.Close() })
	return client, in
}

func (r *rig) enqueue(t *testing.T, key string) {
	t.Helper()
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{"x":1}`), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) waitDrained(t *testing.T) {
	t.Helper()
	itest.Eventually(t, 60*time.Second, func() (bool, string) { return itest.Drained(r.in, "forms") })
}

func (r *rig) dlqCount(t *testing.T) int64 {
	n, err := r.dlq.Count(context.Background(), "forms")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// docs/asynq-traps.md: asynq archives a task on its last retry even when the error is
// not a failure. Throttling must never burn nor be capped by max_retry.
func TestThrottledFiftyTimesWithMaxRetryOneSucceeds(t *testing.T) {
	v := &script{steps: repeat(50, throttled)}
	r := start(t, v, 1, 30*time.Second)
	r.enqueue(t, "t1")
	r.waitDrained(t)
	if v.Calls() != 51 || r.dlqCount(t) != 0 {
		t.Fatalf("calls %d (want 51), dead letters %d (want 0)", v.Calls(), r.dlqCount(t))
	}
}

// The same through asynq's own retry path (horizon 0: every throttle hands
// the task back to the queue), followed by one transient failure: with
// max_retry 1 it must still succeed, which it would not if asynq had
// counted the throttles as failures.
func TestThrottlesThroughQueueAreNotFailures(t *testing.T) {
	v := &script{steps: append(repeat(4, throttled), transient)}
	r := start(t, v, 1, time.Nanosecond)
	r.enqueue(t, "t1")
	r.waitDrained(t)
	if v.Calls() != 6 || r.dlqCount(t) != 0 {
		t.Fatalf("calls %d (want 6), dead letters %d (want 0)", v.Calls(), r.dlqCount(t))
	}
}

func TestTransientBeyondMaxRetryIsDeadLettered(t *testing.T) {
	v := &script{steps: repeat(10, transient)}
	r := start(t, v, 2, 30*time.Second)
	r.enqueue(t, "t1")
	itest.Eventually(t, 60*time.Second, func() (bool, string) {
		return r.dlqCount(t) == 1, fmt.Sprintf("dlq %d after %d calls", r.dlqCount(t), v.Calls())
	})
	r.waitDrained(t)
	if v.Calls() != 3 {
		t.Fatalf("max_retry 2 means 3 calls, got %d", v.Calls())
	}
	e, err := r.dlq.Get(context.Background(), "forms", "t1")
	if err != nil || e.Code != "9999" || e.Attempts != 3 || e.Class != "transient" || e.FirstAttempt.IsZero() || e.LastAttempt.Before(e.FirstAttempt) {
		t.Fatalf("entry %+v %v", e, err)
	}
}

func TestPermanentIsDeadLetteredAtOnce(t *testing.T) {
	v := &script{steps: []error{permanent}}
	r := start(t, v, 5, 30*time.Second)
	r.enqueue(t, "p1")
	itest.Eventually(t, 30*time.Second, func() (bool, string) { return r.dlqCount(t) == 1, "no dead letter" })
	r.waitDrained(t)
	e, err := r.dlq.Get(context.Background(), "forms", "p1")
	if err != nil || e.Code != "4001" || e.Attempts != 1 || v.Calls() != 1 {
		t.Fatalf("entry %+v calls %d %v", e, v.Calls(), err)
	}
	var p tasks.RecordCreate
	if err := json.Unmarshal(e.Payload, &p); err != nil || p.Table != "a/b" {
		t.Fatalf("payload lost: %s", e.Payload)
	}
}

func TestQuotaPausesEndpointWithoutLoss(t *testing.T) {
	v := &script{steps: []error{quota}}
	r := start(t, v, 0, 30*time.Second)
	r.enqueue(t, "q1")
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		d, _ := r.bucket.Paused(context.Background())
		return d > 0, "endpoint not paused"
	})
	r.enqueue(t, "q2")
	r.waitDrained(t) // after the 2s pause both go through
	if v.Calls() != 3 || r.dlqCount(t) != 0 {
		t.Fatalf("calls %d (want 3: quota, then q1 and q2), dlq %d", v.Calls(), r.dlqCount(t))
	}
}

func TestRetryDelayAndIsFailure(t *testing.T) {
	wait := &handlers.RetryError{Delay: 3 * time.Second, Failure: false, Cause: throttled}
	if handlers.IsFailure(wait) || !handlers.IsFailure(errors.New("panic")) || !handlers.IsFailure(&handlers.RetryError{Failure: true}) {
		t.Fatal("IsFailure")
	}
	if d := handlers.RetryDelay(0, wait, nil); d != 3*time.Second {
		t.Fatalf("delay %v", d)
	}
	for n := 0; n < 5; n++ {
		d := handlers.RetryDelay(n, errors.New("lease expired"), nil)
		lo := time.Duration(float64(time.Second) * float64(int(1)<<n) * 0.5)
		hi := time.Duration(float64(time.Second) * float64(int(1)<<n) * 1.5)
		if d < lo || d > hi {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, lo, hi)
		}
	}
}

// A keyed task leaves a dedupe marker when it finishes (so a producer does
// not enqueue the key again); an unkeyed one leaves its done marker too,
// under its random id, and neither leaves attempt bookkeeping behind.
func TestDoneMarkerForEveryTask(t *testing.T) {
	v := &script{}
	r := start(t, v, 0, 30*time.Second)
	r.enqueue(t, "k1")
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.client.Enqueue(task)
	if err != nil {
		t.Fatal(err)
	}
	r.waitDrained(t)
	ctx := context.Background()
	marks, err := r.rdb.Keys(ctx, "vq:dd:*").Result()
	sort.Strings(marks)
	want := []string{"vq:dd:forms:" + info.ID, "vq:dd:forms:k1"}
	sort.Strings(want)
	if err != nil || !slices.Equal(marks, want) {
		t.Fatalf("markers %v %v, want %v", marks, err, want)
	}
	// keyed: dedupe.window (producers refuse the key meanwhile); unkeyed: a
	// day, enough for any re-run after a lost acknowledgement.
	for m, life := range map[string]time.Duration{"vq:dd:forms:k1": config.DefaultDedupeWindow, "vq:dd:forms:" + info.ID: 24 * time.Hour} {
		if ttl := r.rdb.TTL(ctx, m).Val(); ttl < life-time.Minute || ttl > life {
			t.Fatalf("marker %s: TTL %v, want about %v", m, ttl, life)
		}
	}
	if n := r.rdb.HLen(ctx, "vq:{forms}:attempts").Val(); n != 0 {
		t.Fatalf("attempt bookkeeping left behind: %d fields", n)
	}
}
