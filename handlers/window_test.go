package handlers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/handlerdeps"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// offsetClock runs at the real pace, shifted: the handler sees a chosen
// time of day while real waits stay real.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

// at shifts the clock so that it reads h:m:s China Standard Time now.
func (c *offsetClock) at(h, m, s int) {
	now := time.Now().In(spend.CST)
	want := time.Date(now.Year(), now.Month(), now.Day(), h, m, s, 0, spend.CST)
	c.off.Store(int64(time.Until(want)))
}

// real returns the real time at which the clock reads t.
func (c *offsetClock) real(t time.Time) time.Time { return t.Add(-time.Duration(c.off.Load())) }

type windowRig struct {
	sim *vendorsim.Sim
	cl  *asynq.Client
	in  *asynq.Inspector
	dlq *dlq.Store
	clk *offsetClock
}

// startWindow serves endpoint "sms" (caihcom, the real simulator) with a
// 08:00–21:00 send window holding low, on its three lane queues dequeued
// strictly, as the worker does (internal/worker).
func startWindow(t *testing.T, horizon time.Duration) *windowRig {
	t.Helper()
	sc := vendorsim.DefaultConfig()
	sim := vendorsim.New(sc)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	db := srv.FreshDB(t)
	opt := asynq.RedisClientOpt{Addr: srv.Addr, DB: db}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = rdb.Close() })
	desc, err := vendorclient.Lookup("caihcom")
	if err != nil {
		t.Fatal(err)
	}
	c := sc.Caihcom
	cl, err := desc.New(vendorclient.Settings{Endpoint: "sms", BaseURL: hs.URL, Credentials: map[string]string{"appkey": c.AppKey, "app_id": c.AppID, "auth_token": c.AuthToken}, Redis: rdb, KeyPrefix: keys.VendorPrefix("sms")})
	if err != nil {
		t.Fatal(err)
	}
	clk := &offsetClock{}
	r := &windowRig{sim: sim, dlq: dlq.New(rdb), clk: clk}
	h, err := handlers.New(handlers.Deps{
		Policy: handlers.Policy{
			Endpoint: "sms", Vendor: "caihcom", Kind: vendorclient.KindSMS, MaxRetry: 3, Horizon: horizon,
			SendWindow: &handlers.SendWindow{From: 8 * time.Hour, To: 21 * time.Hour, Lanes: []tasks.Priority{tasks.PriorityLow}},
		},
		SMS: cl.SMS, Limiter: handlerdeps.Limiter(ratelimit.New(rdb, "sms", 100, 1, ratelimit.Tuning{})), DeadLetters: handlerdeps.DeadLetters(r.dlq),
		Redis: rdb, Log: zerolog.Nop(), Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := asynq.NewServer(opt, asynq.Config{
		Concurrency: 4, Queues: tasks.QueueWeights("sms"), StrictPriority: true, IsFailure: handlers.IsFailure, RetryDelayFunc: handlers.RetryDelay,
		TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 100 * time.Millisecond, LogLevel: asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSMSSend, h)
	if err := s.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	r.cl, r.in = asynq.NewClient(opt), asynq.NewInspector(opt)
	t.Cleanup(func() { _ = r.cl.Close(); _ = r.in.Close() })
	return r
}

func (r *windowRig) send(t *testing.T, phone string, p tasks.Priority) {
	t.Helper()
	task, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{phone}, Content: "周末特惠，全场八折。", Sign: "【测试】", Priority: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.cl.Enqueue(task); err != nil {
		t.Fatal(err)
	}
}

// At 03:00 China Standard Time a 08:00–21:00 window holding low keeps the
// low SMS from the gateway, counting no failure and dead-lettering none,
// and lets the high one through; the held tasks are due back shortly
// before 08:00 (half a horizon early), not in ten minutes nor at random.
func TestClosedWindowHoldsLowLetsHighThrough(t *testing.T) {
	t.Parallel()
	r := startWindow(t, 2*time.Second)
	r.clk.at(3, 0, 0)
	for i := 0; i < 3; i++ {
		r.send(t, phoneN(i), tasks.PriorityLow)
	}
	r.send(t, phoneN(9), tasks.PriorityHigh)
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		qi, err := r.in.GetQueueInfo(tasks.Queue("sms", tasks.PriorityLow))
		if err != nil {
			return false, err.Error()
		}
		return sentTo(r.sim, phoneN(9)) == 1 && qi.Retry == 3, fmt.Sprintf("high sent %d, low waiting %d of 3", sentTo(r.sim, phoneN(9)), qi.Retry)
	})
	for i := 0; i < 3; i++ {
		if n := sentTo(r.sim, phoneN(i)); n != 0 {
			t.Errorf("low SMS %d sent %d times at 03:00", i, n)
		}
	}
	held, err := r.in.ListRetryTasks(tasks.Queue("sms", tasks.PriorityLow))
	if err != nil {
		t.Fatal(err)
	}
	now := r.clk.now().In(spend.CST)
	opening := r.clk.real(time.Date(now.Year(), now.Month(), now.Day(), 8, 0, 0, 0, spend.CST))
	for _, ti := range held {
		if ti.Retried != 0 {
			t.Errorf("task %s: %d failures counted for a closed window", ti.ID, ti.Retried)
		}
		// Due half a horizon (1 s) before the opening; asynq stores whole
		// seconds, and the handler ran up to a few seconds after enqueue.
		if early := opening.Sub(ti.NextProcessAt); early < 0 || early > 5*time.Second {
			t.Errorf("task %s due %v before the opening, want 0–5s", ti.ID, early)
		}
	}
	if n, _ := r.dlq.Count(context.Background(), "sms"); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

// A window that opens 3 s from now (the clock reads 07:59:57) releases the
// held low SMS: none reaches the gateway before 08:00, all have by 08:00 +
// 1 s. With a 2 s horizon each is handed back first (the opening is beyond
// it), comes back 1 s before it, and waits in the handler for the opening.
func TestWindowOpeningReleasesHeldTasks(t *testing.T) {
	t.Parallel()
	r := startWindow(t, 2*time.Second)
	r.clk.at(7, 59, 57)
	now := r.clk.now().In(spend.CST)
	opening := r.clk.real(time.Date(now.Year(), now.Month(), now.Day(), 8, 0, 0, 0, spend.CST))
	const n = 4
	for i := 0; i < n; i++ {
		r.send(t, phoneN(i), tasks.PriorityLow)
	}
	itest.Eventually(t, 15*time.Second, func() (bool, string) {
		st := r.sim.Stats()[vendorsim.TargetCaihcom]
		return st.Accepted == n, fmt.Sprintf("%d of %d sent", st.Accepted, n)
	})
	st := r.sim.Stats()[vendorsim.TargetCaihcom]
	if st.FirstAccepted.Before(opening) {
		t.Errorf("first SMS at %v, %v before the window opened", st.FirstAccepted, opening.Sub(st.FirstAccepted))
	}
	// Margin: the calls leave at the opening; one second (SPEC §3.6) holds
	// 4 calls at 100/s and a loaded machine's wake-up delays.
	if late := st.LastAccepted.Sub(opening); late > time.Second {
		t.Errorf("last SMS %v after the opening (want within 1s)", late)
	}
	if d, _ := r.dlq.Count(context.Background(), "sms"); d != 0 {
		t.Errorf("%d dead letters", d)
	}
}
