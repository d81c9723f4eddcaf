package dashboards

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLoginLimiterRecoversAndForgets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLoginLimiter()
	l.now = func() time.Time { return now }
	for i := range loginBurst {
		if wait, _ := l.throttled("a"); wait != 0 {
			t.Fatalf("failure %d throttled already", i)
		}
		l.failed("a")
	}
	wait, first := l.throttled("a")
	if wait != loginEvery || !first {
		t.Fatalf("after %d failures: wait %v first %v; want %v, true", loginBurst, wait, first, loginEvery)
	}
	if _, first := l.throttled("a"); first {
		t.Error("the throttling is reported as new twice")
	}
	if wait, _ := l.throttled("b"); wait != 0 {
		t.Error("another client is throttled")
	}
	now = now.Add(loginEvery)
	if wait, _ := l.throttled("a"); wait != 0 {
		t.Errorf("one interval later: still throttled (%v)", wait)
	}
	now = now.Add(loginBurst * loginEvery)
	if wait, _ := l.throttled("a"); wait != 0 || l.size() != 0 {
		t.Errorf("fully recovered: wait %v, %d clients remembered; want 0, 0", wait, l.size())
	}
}

func TestLoginLimiterMemoryIsBounded(t *testing.T) {
	l := newLoginLimiter()
	l.max = 100
	for i := range 10_000 {
		l.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := l.size(); n != 100 {
		t.Fatalf("%d clients remembered, want the bound 100", n)
	}
	// The most recent are kept.
	for range loginBurst {
		l.failed("10.0.39.15") // i = 9999
	}
	if wait, _ := l.throttled("10.0.39.15"); wait == 0 {
		t.Error("the most recent client was forgotten")
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"203.0.113.9:1234":         "203.0.113.9",
		"[2001:db8:1:2:3::1]:1234": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::9]:80":  "2001:db8:1:2::/64",
		"[::ffff:10.0.0.1]:80":     "10.0.0.1",
		"@":                        "@",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if got := clientKey(r); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
