package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
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
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// fakeClock is the handlers' spend clock: frozen where the test puts it.
type fakeClock struct{ ns atomic.Int64 }

func clockAt(t time.Time) *fakeClock      { c := &fakeClock{}; c.set(t); return c }
func (c *fakeClock) set(t time.Time)      { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) now() time.Time       { return time.Unix(0, c.ns.Load()) }
func cstTime(h, m, s, ms int) time.Time   { return time.Date(2026, 12, 2, h, m, s, ms*1e6, spend.CST) }
func (c *fakeClock) add(d time.Duration)  { c.set(c.now().Add(d)) }
func (c *fakeClock) day() string          { return c.now().In(spend.CST).Format("20060102") }
func phoneN(i int) string                 { return fmt.Sprint(13800000000 + i) }
func (r *smsRig) sent(phone string) int   { return sentTo(r.sim, phone) }
func (r *smsRig) total() int              { return len(r.sim.Stats()[vendorsim.TargetCaihcom].ByKey) }
func (r *smsRig) paused() time.Duration   { d, _ := r.bucket.Paused(context.Background()); return d }
func (r *smsRig) dead(t *testing.T) int64 { n, _ := r.dlq.Count(context.Background(), "sms"); return n }
func (r *smsRig) drained() (bool, string) { return itest.Drained(r.in, "sms") }
func (r *smsRig) gauge(t *testing.T) float64 {
	return value(t, r.metrics.SMSSentToday.WithLabelValues("sms"))
}

// sentTo counts the messages the simulator accepted for phone.
func sentTo(sim *vendorsim.Sim, phone string) int {
	n := 0
	for k, c := range sim.Stats()[vendorsim.TargetCaihcom].ByKey {
		if strings.HasSuffix(k, ":"+phone) {
			n += c
		}
	}
	return n
}

// smsRig is a rig serving the SMS endpoint through the real simulator.
type smsRig struct {
	rig
	sim      *vendorsim.Sim
	trips    *tripCounter
	refusals *lineCounter // handler log lines saying the daily budget is spent
}

// lineCounter is a log writer counting the lines that contain substr.
type lineCounter struct {
	substr string
	n      atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(strings.Count(string(p), c.substr)))
	return len(p), nil
}

// startSMS serves endpoint "sms" (caihcom, the real simulator over
// loopback) with pol's spend bounds and clk as the spend clock. Every
// command vendorq's handler sends to Redis goes through one counted client
// (asynq's own use another).
func startSMS(t testing.TB, limits handlers.PhoneLimits, budget int, clk *fakeClock, sc vendorsim.Config) *smsRig {
	t.Helper()
	sim := vendorsim.New(sc)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	db := srv.FreshDB(t)
	opt := asynq.RedisClientOpt{Addr: srv.Addr, DB: db}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = rdb.Close() })
	trips := &tripCounter{}
	rdb.AddHook(trips)
	desc, err := vendorclient.Lookup("caihcom")
	if err != nil {
		t.Fatal(err)
	}
	c := sc.Caihcom
	cl, err := desc.New(vendorclient.Settings{Endpoint: "sms", BaseURL: hs.URL, Credentials: map[string]string{"appkey": c.AppKey, "app_id": c.AppID, "auth_token": c.AuthToken}, Redis: rdb, KeyPrefix: keys.VendorPrefix("sms")})
	if err != nil {
		t.Fatal(err)
	}
	r := &smsRig{rig: rig{rdb: rdb, dlq: dlq.New(rdb), bucket: ratelimit.New(rdb, "sms", 1000, 1, ratelimit.Tuning{}), metrics: metrics.New(nil)}, sim: sim, trips: trips,
		refusals: &lineCounter{substr: "daily SMS budget spent"}}
	var now func() time.Time
	if clk != nil {
		now = clk.now
	}
	h, err := handlers.New(handlers.Deps{
		Policy: handlers.Policy{
			Endpoint: "sms", Vendor: "caihcom", Kind: vendorclient.KindSMS, MaxRetry: 3, QuotaPause: 2 * time.Second,
			Horizon: 30 * time.Second, PhoneLimits: limits, DailyBudget: budget,
		},
		SMS: cl.SMS, Limiter: handlerdeps.Limiter(r.bucket), DeadLetters: handlerdeps.DeadLetters(r.dlq),
		Redis: rdb, Log: zerolog.New(r.refusals).Level(zerolog.DebugLevel), Metrics: r.metrics, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.client, r.in = serve(t, opt, "sms", tasks.TypeSMSSend, 4, h)
	return r
}

func (r *smsRig) send(t testing.TB, key string, phones ...string) {
	t.Helper()
	task, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: phones, Content: "您的验证码为：430237。", Sign: "【测试】", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.Enqueue(task, tasks.Options("sms", key)...); err != nil {
		t.Fatal(err)
	}
}

// tripCounter counts Redis round trips (a command, or a pipeline) and the
// commands that name a spend key.
type tripCounter struct{ trips, spendCmds atomic.Int64 }

func (*tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.note(cmd)
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		for _, cmd := range cmds {
			c.note(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *tripCounter) note(cmd redis.Cmder) {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && (strings.Contains(s, "}:spend:") || strings.Contains(s, "}:cap:")) {
			c.spendCmds.Add(1)
			return
		}
	}
}

// The mixed task: with per_minute 1, a phone already messaged this
// minute is parked with code phone_cap, payload narrowed to it, while the
// task's other phones go out; after the minute it can be sent.
func TestMixedTaskOnlyTheCappedPhoneIsDeadLettered(t *testing.T) {
	clk := clockAt(cstTime(10, 15, 20, 0))
	r := startSMS(t, handlers.PhoneLimits{PerMinute: 1}, 0, clk, vendorsim.DefaultConfig())
	a, b, c := phoneN(1), phoneN(2), phoneN(3)
	r.send(t, "first", a)
	itest.Eventually(t, 20*time.Second, r.drained)
	r.send(t, "mixed", b, a, c)
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		return r.dead(t) == 1, fmt.Sprintf("dead letters %d", r.dead(t))
	})
	itest.Eventually(t, 20*time.Second, r.drained)
	if r.sent(a) != 1 || r.sent(b) != 1 || r.sent(c) != 1 {
		t.Fatalf("sent a=%d b=%d c=%d, want 1 each", r.sent(a), r.sent(b), r.sent(c))
	}
	e, err := r.dlq.Get(context.Background(), "sms", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	var p tasks.SMSSend
	if err := json.Unmarshal(e.Payload, &p); err != nil || !slices.Equal(p.Phones, []string{a}) {
		t.Fatalf("payload %s (%v), want only the capped phone", e.Payload, err)
	}
	if e.Code != handlers.CodePhoneCap || e.Class != "permanent" || !strings.Contains(e.Error, "1 of 3 phones not messaged") {
		t.Fatalf("entry %+v", e)
	}
	if g := r.gauge(t); g != 3 {
		t.Fatalf("sent today %v, want 3", g)
	}
	// The dead letter is replayable: once the minute has turned, its payload goes out.
	clk.add(time.Minute)
	p.Key = "replayed"
	r.send(t, p.Key, p.Phones...)
	itest.Eventually(t, 20*time.Second, func() (bool, string) { return r.sent(a) == 2, fmt.Sprintf("a sent %d times", r.sent(a)) })
}

// daily_budget 5 with 8 messages: 5 go out, the endpoint pauses until
// 00:00 CST (here a second away on the frozen clock; the pause is taken
// again while the clock stands still), nothing is dead-lettered and no
// failure is counted; once the day turns the other 3 go out.
func TestDailyBudgetPausesUntilTheDayTurns(t *testing.T) {
	clk := clockAt(cstTime(23, 59, 59, 0))
	r := startSMS(t, handlers.PhoneLimits{}, 5, clk, vendorsim.DefaultConfig())
	for i := 0; i < 8; i++ {
		r.send(t, fmt.Sprint("b", i), phoneN(i))
	}
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		return r.total() == 5 && r.paused() > 0, fmt.Sprintf("sent %d, paused %v", r.total(), r.paused())
	})
	// The 3 come back (the pause is the second left of the fake day) and
	// are refused again: 3 refusals the first time, 3 more now.
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		n := r.refusals.n.Load()
		return n >= 6, fmt.Sprintf("%d budget refusals, want 6", n)
	})
	if r.total() != 5 || r.dead(t) != 0 {
		t.Fatalf("sent %d (want 5), dead %d (want 0)", r.total(), r.dead(t))
	}
	if g := r.gauge(t); g != 5 {
		t.Fatalf("sent today %v, want 5", g)
	}
	itest.Eventually(t, 5*time.Second, func() (bool, string) {
		p := value(t, r.metrics.Paused.WithLabelValues("sms"))
		return p == 1, fmt.Sprintf("%s = %v, want 1", metrics.NamePaused, p)
	})
	waiting, err := r.in.ListRetryTasks("sms")
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range waiting {
		if ti.Retried != 0 {
			t.Fatalf("task %s counted %d failures while the budget was spent", ti.ID, ti.Retried)
		}
	}
	if reason, _ := r.rdb.Get(context.Background(), keys.Pause("sms")).Result(); reason != "daily_budget 5 spent" {
		t.Fatalf("pause reason %q", reason)
	}
	clk.set(cstTime(23, 59, 59, 0).Add(time.Second + 500*time.Millisecond)) // 00:00:00.5 the next day
	itest.Eventually(t, 30*time.Second, func() (bool, string) {
		ok, msg := r.drained()
		return ok && r.total() == 8, fmt.Sprintf("sent %d of 8; %s", r.total(), msg)
	})
	if r.dead(t) != 0 {
		t.Fatalf("%d dead letters", r.dead(t))
	}
	n, err := r.rdb.HGet(context.Background(), keys.SpendDay("sms", clk.day()), "n").Int()
	if err != nil || n != 3 {
		t.Fatalf("new day counted %d (%v), want 3", n, err)
	}
	if g := r.gauge(t); g != 3 {
		t.Fatalf("sent today %v after the day turned, want 3", g)
	}
	for i := 0; i < 8; i++ {
		if r.sent(phoneN(i)) != 1 {
			t.Fatalf("phone %d sent %d times", i, r.sent(phoneN(i)))
		}
	}
}

// A count is given back when the vendor refuses the message (a permanent
// answer: nothing was sent), and kept, once, across a transient failure
// and its retry: a timeout may have delivered, and the retry of the same
// message must not find its phone capped.
func TestCountsGivenBackOnlyWhenNothingWasSent(t *testing.T) {
	sc := vendorsim.DefaultConfig()
	bad := phoneN(9)
	sc.Caihcom.BadPhones = []string{bad}
	clk := clockAt(cstTime(12, 0, 10, 0))
	r := startSMS(t, handlers.PhoneLimits{PerMinute: 1}, 100, clk, sc)
	r.send(t, "bad", bad)
	itest.Eventually(t, 20*time.Second, func() (bool, string) { return r.dead(t) == 1, "no dead letter" })
	if e, _ := r.dlq.Get(context.Background(), "sms", "bad"); e.Code == handlers.CodePhoneCap {
		t.Fatalf("a vendor refusal parked as phone_cap: %+v", e)
	}
	if err := r.sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Code: "800", Times: 1}); err != nil {
		t.Fatal(err)
	}
	ok := phoneN(1)
	r.send(t, "flaky", ok)
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		done, msg := r.drained()
		return done && r.sent(ok) == 1, fmt.Sprintf("sent %d; %s", r.sent(ok), msg)
	})
	ctx := context.Background()
	if n, _ := r.rdb.HGet(ctx, keys.SpendDay("sms", clk.day()), "n").Int(); n != 1 {
		t.Fatalf("day count %d, want 1 (the refused message given back, the retried one counted once)", n)
	}
	if n, _ := r.rdb.Get(ctx, keys.PhoneCount("sms", "m", "202612021200", bad)).Int(); n != 0 {
		t.Fatalf("refused phone's minute count %d, want 0", n)
	}
	if r.dead(t) != 1 {
		t.Fatalf("dead letters %d, want 1 (the bad phone)", r.dead(t))
	}
}

// Redis round trips per task: an endpoint without phone_limits and
// daily_budget pays nothing extra and never names a spend key; with them,
// one round trip per phone.
func TestSpendRoundTrips(t *testing.T) {
	perTask := func(t *testing.T, limits handlers.PhoneLimits, budget int, phones int) (trips, spendCmds int64) {
		r := startSMS(t, limits, budget, nil, vendorsim.DefaultConfig())
		ps := make([]string, phones)
		for i := range ps {
			ps[i] = phoneN(i)
		}
		r.send(t, "warm", phoneN(50)) // loads the scripts (EVALSHA misses once)
		itest.Eventually(t, 20*time.Second, r.drained)
		before, beforeSpend := r.trips.trips.Load(), r.trips.spendCmds.Load()
		const n = 4
		for i := 0; i < n; i++ {
			for j := range ps {
				ps[j] = phoneN(100*(i+1) + j)
			}
			r.send(t, fmt.Sprint("t", i), ps...)
			itest.Eventually(t, 20*time.Second, r.drained)
		}
		if r.total() != 1+n*phones || r.dead(t) != 0 {
			t.Fatalf("sent %d, dead %d", r.total(), r.dead(t))
		}
		return (r.trips.trips.Load() - before) / n, r.trips.spendCmds.Load() - beforeSpend
	}
	for _, phones := range []int{1, 3} {
		off, offSpend := perTask(t, handlers.PhoneLimits{}, 0, phones)
		on, _ := perTask(t, handlers.PhoneLimits{PerMinute: 1, PerHour: 5, PerDay: 10}, 20000, phones)
		t.Logf("%d-phone task: %d Redis round trips unconfigured, %d with phone_limits and daily_budget", phones, off, on)
		if offSpend != 0 {
			t.Errorf("unconfigured endpoint sent %d commands naming spend keys", offSpend)
		}
		if on-off != int64(phones) {
			t.Errorf("%d-phone task: %d extra round trips, want %d (one per phone)", phones, on-off, phones)
		}
	}
}

func TestSpendBoundsAreForSMSEndpointsOnly(t *testing.T) {
	rdb := srv.Client(t, srv.FreshDB(t))
	base := handlers.Deps{
		Records: &script{}, Limiter: handlerdeps.Limiter(ratelimit.New(rdb, "forms", 10, 1, ratelimit.Tuning{})),
		DeadLetters: handlerdeps.DeadLetters(dlq.New(rdb)), Redis: rdb, Log: zerolog.Nop(),
	}
	for name, pol := range map[string]handlers.Policy{
		"record endpoint": {Endpoint: "forms", Vendor: "baibaoyun", Kind: vendorclient.KindRecord, DailyBudget: 5},
		"negative":        {Endpoint: "sms", Vendor: "caihcom", Kind: vendorclient.KindSMS, PhoneLimits: handlers.PhoneLimits{PerHour: -1}},
	} {
		d := base
		d.Policy, d.SMS = pol, smsNop{}
		if _, err := handlers.New(d); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

type smsNop struct{}

func (smsNop) Send(context.Context, vendorclient.SMS) error { return nil }
