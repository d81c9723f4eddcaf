package dashboards_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/itest"
)

// Issue 9: 2,000 wrong guesses in 0.4 s were neither slowed nor logged.
// Now most are answered 429 unchecked, each checked failure is logged
// without the value tried, and another client still logs in.
func TestFailedLoginsThrottledPerClient(t *testing.T) {
	var logs itest.Buffer
	f := newFixture(t, func(o *dashboards.Options) {
		o.Credentials = dashboards.Credentials{User: "ops", Password: pw1, Token: tok1}
		o.Log = zerolog.New(&logs)
	})
	const guesses, workers = 2000, 8
	const attacker = "203.0.113.9:40000"
	var mu sync.Mutex
	codes := map[int]int{}
	guess := func(i int) {
		req := httptest.NewRequest(http.MethodGet, "/dlq", nil)
		if i%2 == 0 {
			req.SetBasicAuth("ops", fmt.Sprintf("guess-%04d-abcdefghij", i))
		} else {
			req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%04d-abcdefghij", i))
		}
		rec := f.serveFrom(req, attacker)
		if rec.Code == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 1 {
				t.Errorf("429 with Retry-After %q", rec.Header().Get("Retry-After"))
			}
		}
		mu.Lock()
		codes[rec.Code]++
		mu.Unlock()
	}
	// Two in turn (one of each kind), the rest from several goroutines at once.
	guess(0)
	guess(1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 2 + w; i < guesses; i += workers {
				guess(i)
			}
		})
	}
	wg.Wait()
	if codes[http.StatusTooManyRequests] < guesses*9/10 || codes[http.StatusOK] != 0 || codes[http.StatusTooManyRequests]+codes[http.StatusUnauthorized] != guesses {
		t.Fatalf("answers to %d wrong guesses: %v; want at least 90%% 429, the rest 401", guesses, codes)
	}
	out := logs.String()
	if n := strings.Count(out, "failed login"); n != codes[http.StatusUnauthorized] {
		t.Errorf("%d failed-login log lines for %d checked failures", n, codes[http.StatusUnauthorized])
	}
	for _, want := range []string{`"client":"203.0.113.9"`, `"path":"/dlq"`, `"user":"ops"`, `"scheme":"bearer"`, "login attempts throttled"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%.1000s", want, out)
		}
	}
	if strings.Contains(out, "guess-") || strings.Contains(out, pw1) || strings.Contains(out, tok1) {
		t.Errorf("the log shows a password or token value:\n%.1000s", out)
	}
	// While throttled, even the right password is not checked.
	req := httptest.NewRequest(http.MethodGet, "/dlq", nil)
	req.SetBasicAuth("ops", pw1)
	if rec := f.serveFrom(req, attacker); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the throttled client with the right password: %d, want 429", rec.Code)
	}
	// Another client logs in, by password and by token.
	req = httptest.NewRequest(http.MethodGet, "/dlq", nil)
	req.SetBasicAuth("ops", pw1)
	if rec := f.serveFrom(req, "198.51.100.7:5000"); rec.Code != http.StatusOK {
		t.Errorf("another client with the right password: %d, want 200", rec.Code)
	}
	req = httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok1)
	if rec := f.serveFrom(req, "[2001:db8::7]:5000"); rec.Code != http.StatusOK {
		t.Errorf("another client with the token: %d, want 200", rec.Code)
	}
	// A browser's first, credential-less request is no failed login.
	before := strings.Count(logs.String(), "failed login")
	if rec := f.serveFrom(httptest.NewRequest(http.MethodGet, "/", nil), "198.51.100.8:5000"); rec.Code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", rec.Code)
	}
	if strings.Count(logs.String(), "failed login") != before {
		t.Error("a request without credentials was logged as a failed login")
	}
}
