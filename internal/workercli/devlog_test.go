package workercli_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
)

// `worker --dev` prints its banner again once the first demo burst is
// through (10s after the start), and at --log-level info logs one summary
// line per endpoint every 5s instead of a line per successful call.
// Bounds: the banner is due at 10s and the first summaries at 5s; the
// waits allow 40s (the worker's start under -race on 2 cores included).
func TestDevRepeatsBannerAndSummarisesCalls(t *testing.T) {
	addr := freeAddr(t)
	r := start(t, nil, "--dev", "--dashboard", addr)
	banners := func() int { return strings.Count(r.stdout.String(), "Press Ctrl-C to stop.") }
	summary := regexp.MustCompile(`forms: \d+ records created in the last [0-9.]+m?s`)
	waitFor(t, r, 40*time.Second, "a summary line for forms", func() bool { return summary.MatchString(r.stderr.String()) })
	waitFor(t, r, 40*time.Second, "the banner a second time", func() bool { return banners() >= 2 })
	out := r.stdout.String()
	if i := strings.LastIndex(out, "vendorq worker --dev is running"); i < 0 || !strings.Contains(out[i:], "http://"+addr+"/dlq") {
		t.Errorf("the repeated banner lacks the links:\n%s", out)
	}
	if code := r.stop(t); code != cliexit.OK {
		t.Fatalf("exit %d after Ctrl-C", code)
	}
	if n := banners(); n != 2 {
		t.Errorf("the banner was printed %d times, want 2", n)
	}
	logs := r.stderr.String()
	for _, per := range []string{"INF record created", "INF sms sent"} {
		if strings.Contains(logs, per) {
			t.Errorf("--dev at info logs a line per call (%q):\n%s", per, tail(logs, 3000))
		}
	}
	for _, want := range []string{"--log-level debug shows each", "sms: "} {
		if !strings.Contains(logs, want) {
			t.Errorf("--dev logs lack %q:\n%s", want, tail(logs, 3000))
		}
	}
}

// With --log-level debug every successful call keeps its own line.
func TestDevDebugLogsEveryCall(t *testing.T) {
	r := start(t, nil, "--dev", "--dashboard", freeAddr(t), "--log-level", "debug")
	waitFor(t, r, 40*time.Second, "a per-call line", func() bool { return strings.Contains(r.stderr.String(), "INF record created") })
	if strings.Contains(r.stderr.String(), "records created in the last") {
		t.Error("--log-level debug summarises calls")
	}
	if code := r.stop(t); code != cliexit.OK {
		t.Fatalf("exit %d after Ctrl-C", code)
	}
}
