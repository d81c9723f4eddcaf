package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// Three worker processes, ten OTPs to one phone within one calendar minute,
// phone_limits per_minute 1 (README "Configuration", SPEC §3.9): the phone
// gets exactly one message, the other nine tasks are dead-lettered with
// code phone_cap. The processes run on the real clock, so the test starts
// only when at least 20 s of the current CST minute are left (it waits for
// the next minute otherwise); the ten tasks are enqueued over 0.7 s and take about a second at 10/s. If
// the minute turned anyway before every task ended, it says so instead of
// blaming the cap.
func TestThreeProcessesCapOnePhonePerMinute(t *testing.T) {
	t.Parallel()
	const n, phone = 10, "13800000077"
	r := newRig(t, vendorsim.DefaultConfig(), map[string]itest.Endpoint{"sms": {Rate: 10, Concurrency: 4}})
	withSMSKeys(t, r.cfgPath, "    phone_limits: {per_minute: 1}\n")
	for i := 0; i < 3; i++ {
		r.worker(t, fmt.Sprintf("w%d", i))
	}
	itest.Eventually(t, time.Minute, func() (bool, string) {
		// An idle endpoint has no server (docs/idle.md): a wake starts
		// sms's in every process, for the idle grace.
		_ = r.prod.Waker().Wake(context.Background(), "sms", time.Time{})
		ss, err := r.in.Servers()
		serving := 0
		for _, s := range ss {
			if _, ok := s.Queues["sms"]; ok {
				serving++
			}
		}
		return serving >= 3, fmt.Sprintf("%d processes serve sms (%v)", serving, err)
	})
	if left := time.Minute - time.Duration(time.Now().In(spend.CST).Second())*time.Second; left < 20*time.Second {
		time.Sleep(left + 200*time.Millisecond)
	}
	minute := time.Now().In(spend.CST).Truncate(time.Minute)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if _, err := r.prod.SMS(ctx, tasks.SMSSend{Endpoint: "sms", Phones: []string{phone}, Content: fmt.Sprintf("您的验证码为：%06d。", i), Sign: "【测试】", Key: fmt.Sprint("otp-", i)}); err != nil {
			t.Fatal(err)
		}
		// Spaced wider than nothing, narrower than the idle processes' 200 ms
		// poll, so that the tasks spread over the processes instead of one
		// busy process taking them all.
		time.Sleep(70 * time.Millisecond)
	}
	store := dlq.New(r.rdbFor(t))
	itest.Eventually(t, time.Minute, func() (bool, string) {
		ok, msg := itest.Drained(r.in, "sms")
		c, _ := store.Count(ctx, "sms")
		return ok && c+int64(sent(r.sim)) >= n, fmt.Sprintf("%s; dead %d, sent %d", msg, c, sent(r.sim))
	})
	if end := time.Now().In(spend.CST).Truncate(time.Minute); !end.Equal(minute) {
		t.Fatalf("the calendar minute turned mid-test (%s → %s): the cap allows one message per minute, so the counts prove nothing", minute.Format("15:04"), end.Format("15:04"))
	}
	codes := map[string]int{}
	if err := store.Scan(ctx, "sms", func(e dlq.Entry) error { codes[e.Code]++; return nil }); err != nil {
		t.Fatal(err)
	}
	capping := 0 // processes that refused the phone (a warning each): the count is shared, not per process
	for i := 0; i < 3; i++ {
		if b, _ := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("w%d.log", i))); strings.Contains(string(b), "phone over its limit") {
			capping++
		}
	}
	t.Logf("3 processes, %d SMS to one phone, per_minute 1: sent %d, dead letters by code %v, %d processes refused the phone", n, sent(r.sim), codes, capping)
	if sent(r.sim) != 1 || codes["phone_cap"] != n-1 || len(codes) != 1 {
		t.Fatalf("sent %d (want 1), dead letters %v (want %d phone_cap)", sent(r.sim), codes, n-1)
	}
}

// withSMSKeys appends endpoint keys to the rig's config: itest.ConfigYAML
// writes the sms endpoint last, so they land in it (checked by loading it).
func withSMSKeys(t *testing.T, path, lines string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, lines...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Path: path, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Endpoints["sms"]; e.PhoneLimits == (config.PhoneLimits{}) && e.DailyBudget == 0 {
		t.Fatalf("the keys %q did not land in the sms endpoint", strings.TrimSpace(lines))
	}
}

// sent counts the messages the simulator accepted: all to the one phone
// of the test.
func sent(sim *vendorsim.Sim) int { return int(sim.Stats()[vendorsim.TargetCaihcom].Accepted) }

// rdbFor opens a client on the rig's database (read from its config).
func (r *rig) rdbFor(t *testing.T) redis.UniversalClient {
	t.Helper()
	cfg, err := config.Load(config.Options{Path: r.cfgPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := conn.NewClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}
