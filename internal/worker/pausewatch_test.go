package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
)

// A pause set in Redis (as any worker of the fleet sets it) is logged when
// it starts, when it is extended and when it ends, against a real
// redis-server.
//
// Margins: the watcher looks every second, so a pause of 1.5 s is seen
// with 0.5 s to spare for scheduling; it looks again when the pause is due
// (+20 ms), and the test allows 3 s past the end for "resumed".
func TestPauseWatcherLogsStartExtensionAndEnd(t *testing.T) {
	e := newEnv(t, srv, vendorsim.DefaultConfig(), nil, "tables", "gjy", "sms")
	var logs syncLog
	conn, _ := redisconn.Parse(e.rurl)
	w := workertest.Start(t, e.cfg, conn, worker.Options{Log: zerolog.New(&logs), ShutdownTimeout: time.Second})
	ctx := context.Background()
	b := w.Bucket("forms")
	seen := func(what string, by time.Time) time.Time {
		t.Helper()
		for !strings.Contains(logs.String(), what) {
			if time.Now().After(by) {
				t.Fatalf("no %q logged in time; logs:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Now()
	}

	if err := b.Pause(ctx, 1500*time.Millisecond, "test quota"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	seen(`"message":"endpoint paused`, start.Add(1500*time.Millisecond))
	if !strings.Contains(logs.String(), `"endpoint":"forms"`) || !strings.Contains(logs.String(), `"until":`) {
		t.Errorf("the pause line lacks the endpoint or its end:\n%s", logs.String())
	}
	// Longer now: said once, and the end moves.
	if err := b.Pause(ctx, 2500*time.Millisecond, "test quota"); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(2500 * time.Millisecond)
	seen(`"message":"endpoint pause extended"`, end)
	at := seen(`"message":"endpoint resumed`, end.Add(3*time.Second))
	if at.Before(end.Add(-50 * time.Millisecond)) {
		t.Errorf("resumed logged %v before the pause ended", end.Sub(at))
	}
	out := logs.String()
	if strings.Count(out, "endpoint paused") != 1 || strings.Count(out, "endpoint resumed") != 1 || strings.Count(out, "pause extended") != 1 {
		t.Errorf("want one paused, one extended, one resumed line:\n%s", out)
	}
	if strings.Index(out, "endpoint paused") > strings.Index(out, "endpoint resumed") {
		t.Errorf("resumed before paused:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "pause") && !strings.Contains(l, `"level":"warn"`) {
			t.Errorf("pause line not at warn: %s", l)
		}
	}
}

// A worker that starts while the fleet is paused (a restart mid-pause,
// no task running to meet the pause) says so on vendorq_endpoint_paused,
// and says 0 again once the pause is over.
//
// Margins: the watcher looks at once on start, then when the pause is due
// (+20 ms); the test allows 2 s for the first and 3 s past the end.
func TestPausedGaugeOfAWorkerStartedMidPause(t *testing.T) {
	e := newEnv(t, srv, vendorsim.DefaultConfig(), nil, "tables", "gjy", "sms")
	conn, _ := redisconn.Parse(e.rurl)
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	ep := e.cfg.Endpoints["forms"]
	const pause = 2 * time.Second
	if err := ratelimit.New(rdb, "forms", ep.Rate, ep.Burst, ratelimit.Tuning{}).Pause(context.Background(), pause, "quota, before this worker"); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(pause)
	w := workertest.StartOn(t, e.cfg, conn, rdb, worker.Options{Log: zerolog.Nop(), ShutdownTimeout: time.Second})
	paused := func() float64 { return gaugeValue(w.Metrics.Paused.WithLabelValues("forms")) }
	itest.Eventually(t, 2*time.Second, func() (bool, string) {
		return paused() == 1, fmt.Sprintf("vendorq_endpoint_paused{endpoint=forms} = %v during a pause set before the start, want 1", paused())
	})
	itest.Eventually(t, time.Until(end)+3*time.Second, func() (bool, string) {
		return paused() == 0, fmt.Sprintf("vendorq_endpoint_paused{endpoint=forms} = %v after the pause, want 0", paused())
	})
	if time.Now().Before(end.Add(-50 * time.Millisecond)) {
		t.Errorf("the gauge went to 0 %v before the pause ended", time.Until(end))
	}
	if v := gaugeValue(w.Metrics.Paused.WithLabelValues("sms")); v != 0 {
		t.Errorf("sms, never paused, reads %v", v)
	}
}

// syncLog collects log lines from the worker's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
