package spend_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/spend"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

// clock is a settable time for the windows.
type clock struct{ ns atomic.Int64 }

func at(t time.Time) *clock      { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()) }

func cst(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, spend.CST)
}

func newCounter(t *testing.T, l spend.Limits, c *clock) (*spend.Counter, *redis.Client) {
	t.Helper()
	rdb := srv.Client(t, srv.FreshDB(t))
	return spend.New(rdb, "sms", l, c.now), rdb
}

func take(t *testing.T, c *spend.Counter, msg, phone string) spend.Result {
	t.Helper()
	r, err := c.Take(context.Background(), msg, phone)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// per_minute 1: the second message in the same calendar minute is capped,
// the one in the next minute is not; a retry of a counted message passes
// without being counted again.
func TestPhoneCappedPerCalendarMinute(t *testing.T) {
	clk := at(cst(2026, 12, 2, 9, 30, 59))
	c, _ := newCounter(t, spend.Limits{PerMinute: 1}, clk)
	const phone = "13800000000"
	if r := take(t, c, "m1", phone); r.Verdict != spend.Allowed || r.Hold == nil || r.SentToday != 1 {
		t.Fatalf("first: %+v", r)
	}
	if r := take(t, c, "m1", phone); r.Verdict != spend.Allowed || r.Hold != nil || r.SentToday != 1 {
		t.Fatalf("retry of the same message must pass uncounted: %+v", r)
	}
	if r := take(t, c, "m2", phone); r.Verdict != spend.PhoneCapped || r.Window != "per_minute" {
		t.Fatalf("second in the minute: %+v", r)
	}
	if r := take(t, c, "m3", "13900000000"); r.Verdict != spend.Allowed {
		t.Fatalf("another phone: %+v", r)
	}
	clk.set(cst(2026, 12, 2, 9, 31, 0)) // one second later, a new calendar minute
	if r := take(t, c, "m2", phone); r.Verdict != spend.Allowed || r.SentToday != 3 {
		t.Fatalf("next minute: %+v", r)
	}
}

func TestHourAndDayWindows(t *testing.T) {
	clk := at(cst(2026, 12, 2, 9, 0, 0))
	c, _ := newCounter(t, spend.Limits{PerHour: 2, PerDay: 3}, clk)
	const phone = "13800000000"
	for i, want := range []string{"", "", "per_hour"} {
		clk.set(cst(2026, 12, 2, 9, 10*i, 0))
		if r := take(t, c, fmt.Sprint("h", i), phone); r.Window != want {
			t.Fatalf("message %d at 09:%02d: %+v, want window %q", i, 10*i, r, want)
		}
	}
	clk.set(cst(2026, 12, 2, 10, 0, 0))
	if r := take(t, c, "h2", phone); r.Verdict != spend.Allowed {
		t.Fatalf("next hour: %+v", r)
	}
	if r := take(t, c, "h3", phone); r.Window != "per_day" {
		t.Fatalf("fourth of the day: %+v", r)
	}
	clk.set(cst(2026, 12, 3, 0, 0, 0))
	if r := take(t, c, "h3", phone); r.Verdict != spend.Allowed || r.SentToday != 1 {
		t.Fatalf("next day: %+v", r)
	}
}

// The windows are China Standard Time whatever the time's own zone: 16:00
// UTC is 00:00 CST.
func TestWindowsAreChinaStandardTime(t *testing.T) {
	clk := at(time.Date(2026, 12, 2, 15, 59, 59, 0, time.UTC))
	c, rdb := newCounter(t, spend.Limits{DailyBudget: 1}, clk)
	if r := take(t, c, "a", "13800000000"); r.Verdict != spend.Allowed || r.ResumeIn != time.Second {
		t.Fatalf("%+v", r)
	}
	if n, _ := rdb.HGet(context.Background(), keys.SpendDay("sms", "20261202"), "n").Int(); n != 1 {
		t.Fatalf("counted on CST day 20261202: %d", n)
	}
	if r := take(t, c, "b", "13800000001"); r.Verdict != spend.BudgetSpent || r.ResumeIn != time.Second {
		t.Fatalf("%+v", r)
	}
	clk.set(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC))
	if r := take(t, c, "b", "13800000001"); r.Verdict != spend.Allowed || r.ResumeIn != 24*time.Hour {
		t.Fatalf("after 00:00 CST: %+v", r)
	}
}

// The budget is checked before the phone: a spent day parks nothing.
func TestBudgetBeforePhone(t *testing.T) {
	clk := at(cst(2026, 12, 2, 12, 0, 0))
	c, _ := newCounter(t, spend.Limits{PerMinute: 1, DailyBudget: 1}, clk)
	take(t, c, "a", "13800000000")
	if r := take(t, c, "b", "13800000000"); r.Verdict != spend.BudgetSpent || r.SentToday != 1 {
		t.Fatalf("%+v", r)
	}
}

// Release gives back the message's counts once; the phone may then be
// messaged, and a second release changes nothing.
func TestRelease(t *testing.T) {
	clk := at(cst(2026, 12, 2, 12, 0, 0))
	c, rdb := newCounter(t, spend.Limits{PerMinute: 1, PerHour: 1, PerDay: 1, DailyBudget: 1}, clk)
	ctx := context.Background()
	r := take(t, c, "a", "13800000000")
	if err := r.Hold.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Hold.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if r := take(t, c, "b", "13800000000"); r.Verdict != spend.Allowed || r.SentToday != 1 {
		t.Fatalf("after release: %+v", r)
	}
	for _, k := range []string{keys.PhoneCount("sms", "m", "202612021200", "13800000000"), keys.PhoneCount("sms", "d", "20261202", "13800000000")} {
		if n, _ := rdb.Get(ctx, k).Int(); n != 1 {
			t.Fatalf("%s = %d, want 1", k, n)
		}
	}
}

// Every key has a TTL just past its window (none piles up), and a bound
// left at 0 touches no key.
func TestKeysExpire(t *testing.T) {
	clk := at(cst(2026, 12, 2, 12, 0, 30))
	c, rdb := newCounter(t, spend.Limits{PerMinute: 1}, clk)
	take(t, c, "a", "13800000000")
	ctx := context.Background()
	ks, _ := rdb.Keys(ctx, "*").Result()
	if len(ks) != 2 {
		t.Fatalf("keys %v, want the day hash and the minute counter", ks)
	}
	want := map[string]time.Duration{
		keys.SpendDay("sms", "20261202"):                           12*time.Hour - 30*time.Second + time.Minute,
		keys.PhoneCount("sms", "m", "202612021200", "13800000000"): 30*time.Second + time.Minute,
	}
	for k, d := range want {
		ttl, _ := rdb.PTTL(ctx, k).Result()
		if ttl <= 0 || ttl > d || ttl < d-5*time.Second {
			t.Errorf("%s TTL %v, want about %v", k, ttl, d)
		}
	}
}

// 40 goroutines (standing for worker processes) race for one phone with
// per_minute 1 and for a budget of 5 messages: exactly one and five win.
func TestAtomicUnderContention(t *testing.T) {
	clk := at(cst(2026, 12, 2, 12, 0, 0))
	c, _ := newCounter(t, spend.Limits{PerMinute: 1}, clk)
	b := spend.New(c2(t), "sms", spend.Limits{DailyBudget: 5}, clk.now)
	var phoneWins, budgetWins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if r, err := c.Take(context.Background(), fmt.Sprint("m", i), "13800000000"); err == nil && r.Verdict == spend.Allowed {
				phoneWins.Add(1)
			}
			if r, err := b.Take(context.Background(), fmt.Sprint("m", i), fmt.Sprint(13800000000+i)); err == nil && r.Verdict == spend.Allowed {
				budgetWins.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if phoneWins.Load() != 1 || budgetWins.Load() != 5 {
		t.Fatalf("phone allowed %d times (want 1), budget %d (want 5)", phoneWins.Load(), budgetWins.Load())
	}
}

func c2(t *testing.T) *redis.Client { return srv.Client(t, srv.FreshDB(t)) }

func TestTakeFailsClosedWithoutRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	c := spend.New(rdb, "sms", spend.Limits{PerMinute: 1}, nil)
	if _, err := c.Take(context.Background(), "a", "13800000000"); err == nil {
		t.Fatal("no error without Redis")
	} else if !errors.Is(err, spend.ErrRedis) {
		t.Fatalf("error %v does not wrap ErrRedis", err)
	}
}
