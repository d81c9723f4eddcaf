package dashboards_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/dlq"
)

// getResp fetches path and returns the answer with its body.
func getResp(t *testing.T, f *fixture, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := f.request(t, http.MethodGet, path, "", header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// asynqmon counts nothing of vendorq's dead letters: every asynqmon page
// carries a bar with their count (per endpoint, one since removed from the
// config included) linking to /dlq; asynqmon's page, its security headers
// and its API stay as they were.
func TestMonitoringPageLinksToDeadLetterCount(t *testing.T) {
	f := newFixture(t, nil)
	addDead(t, f.store, "sms", 3)
	addDead(t, f.store, "forms", 1)
	addDead(t, f.store, "old", 2) // not in the config any more

	for _, path := range []string{"/monitoring/", "/monitoring/queues/sms?status=archived"} {
		resp, body := getResp(t, f, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		for _, want := range []string{
			`id="vendorq-dlq-bar"`, `<a href="/dlq"`, `Dead letters: <span id="vendorq-dlq-n">6</span>`,
			"forms 1, old 2, sms 3", `(vendorq's own store; asynq's "failed"/"archived" do not count them)`,
			`fetch("/dlq/count"`, `<div id="root"></div>`, // asynqmon's app is still there
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q:\n%s", path, want, body)
			}
		}
		if i, j := strings.Index(body, "vendorq-dlq-bar"), strings.LastIndex(body, "</body>"); i < 0 || j < i {
			t.Errorf("the bar is not inside the body")
		}
		h := resp.Header
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("GET %s headers: %v", path, h)
		}
	}

	// asynqmon's API and static files are not rewritten.
	for _, path := range []string{"/monitoring/api/queues", "/monitoring/favicon.ico", "/monitoring/manifest.json"} {
		if resp, body := getResp(t, f, path, nil); resp.StatusCode != http.StatusOK || strings.Contains(body, "vendorq-dlq-bar") {
			t.Errorf("GET %s: %d, bar injected: %v", path, resp.StatusCode, strings.Contains(body, "vendorq-dlq-bar"))
		}
	}

	// The count the open page refreshes from.
	resp, body := getResp(t, f, dashboards.DLQCountPath, nil)
	var c struct {
		Total     int64            `json:"total"`
		Endpoints map[string]int64 `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || resp.StatusCode != http.StatusOK ||
		c.Total != 6 || c.Endpoints["sms"] != 3 || c.Endpoints["forms"] != 1 || c.Endpoints["old"] != 2 || len(c.Endpoints) != 3 {
		t.Errorf("GET /dlq/count: %d %s (%v)", resp.StatusCode, body, err)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /dlq/count headers: %v", resp.Header)
	}
	// …behind the same Host guard as every page.
	if resp, _ := getResp(t, f, dashboards.DLQCountPath, http.Header{"Host": {"attacker.example:8080"}}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET /dlq/count with Host attacker.example:8080: %d, want 421", resp.StatusCode)
	}
}

func TestMonitoringBarWithNoDeadLettersAndBehindAuth(t *testing.T) {
	const pw = "correct-horse-battery"
	f := newFixture(t, func(o *dashboards.Options) { o.Credentials = dashboards.Credentials{User: "ops", Password: pw} })
	if resp, _ := getResp(t, f, dashboards.DLQCountPath, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /dlq/count without credentials: %d, want 401", resp.StatusCode)
	}
	if resp, body := getResp(t, f, "/monitoring/", nil); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "vendorq-dlq-bar") {
		t.Errorf("GET /monitoring/ without credentials: %d", resp.StatusCode)
	}
	req := f.request(t, http.MethodGet, "/monitoring/", "", nil)
	req.SetBasicAuth("ops", pw)
	code, body := do(t, req)
	if code != http.StatusOK || !strings.Contains(body, `Dead letters: <span id="vendorq-dlq-n">0</span>`) {
		t.Errorf("GET /monitoring/ with no dead letters: %d\n%s", code, body)
	}
}

// A store that does not answer: asynqmon's page is still served, the bar
// says so; /dlq/count answers 500.
func TestMonitoringBarWithStoreDown(t *testing.T) {
	f := newFixture(t, nil)
	f.serve(t, func() dashboards.Options {
		o := f.opts
		o.DeadLetters = dashdeps.DeadLetters(dlq.New(deadRedis(t)), f.client)
		return o
	}())
	resp, body := getResp(t, f, "/monitoring/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<div id="root"></div>`) ||
		!strings.Contains(body, `<span id="vendorq-dlq-n">?</span>`) || !strings.Contains(body, "the store did not answer") {
		t.Errorf("GET /monitoring/ with the store down: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := getResp(t, f, dashboards.DLQCountPath, nil); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET /dlq/count with the store down: %d, want 500", resp.StatusCode)
	}
}
