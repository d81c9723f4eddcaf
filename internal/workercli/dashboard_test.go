package workercli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/workercli"
)

// writeConfig writes a two-endpoint config (forms, sms) for the simulator at simURL.
func writeConfig(t *testing.T, redisURL, simURL string) string {
	t.Helper()
	sc := vendorsim.DefaultConfig()
	text := fmt.Sprintf(`redis: { url: %q }
endpoints:
  forms: { vendor: baibaoyun, base_url: %q, api_key: %q, rate: 5 }
  sms: { vendor: caihcom, base_url: %q, appkey: %q, app_id: %q, auth_token: %q, rate: 10 }
`, redisURL, simURL, sc.Baibaoyun.APIKey, simURL, sc.Caihcom.AppKey, sc.Caihcom.AppID, sc.Caihcom.AuthToken)
	p := filepath.Join(t.TempDir(), "vendorq.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func runMain(t *testing.T, getenv func(string) string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var stderr syncBuffer
	code := workercli.Main(ctx, args, workercli.Env{Stdout: io.Discard, Stderr: &stderr, Getenv: getenv})
	return code, stderr.String()
}

// The acceptance test: a dashboard beyond loopback without
// credentials is refused with exit 2 and a message naming what to set.
func TestDashboardBeyondLoopbackWithoutCredentialsExits2(t *testing.T) {
	// Nothing listens at these addresses: the refusal comes before any dial.
	cfg := writeConfig(t, "redis://127.0.0.1:1/0", "http://127.0.0.1:1")
	for _, args := range [][]string{
		{"--config", cfg, "--dashboard", "0.0.0.0:8080"},
		{"--config", cfg, "--dashboard", ":8080"},
		{"--config", cfg, "--dashboard", "192.168.1.10:8080"},
		{"--dev", "--dashboard", "0.0.0.0:8080"},
	} {
		code, stderr := runMain(t, nil, args...)
		if code != cliexit.Usage {
			t.Errorf("worker %v: exit %d, want 2; stderr %q", args, code, stderr)
		}
		for _, want := range []string{"--dashboard-basic-auth", "--dashboard-token", "127.0.0.1", args[len(args)-1]} {
			if !strings.Contains(stderr, want) {
				t.Errorf("worker %v: message %q does not mention %q", args, stderr, want)
			}
		}
	}
}

func TestDashboardBadCredentialsExit2WithoutEchoingThem(t *testing.T) {
	cfg := writeConfig(t, "redis://127.0.0.1:1/0", "http://127.0.0.1:1")
	code, stderr := runMain(t, nil, "--config", cfg, "--dashboard", "127.0.0.1:0", "--dashboard-basic-auth", "nocolon-s3cret")
	if code != cliexit.Usage || !strings.Contains(stderr, "--dashboard-basic-auth") || strings.Contains(stderr, "s3cret") {
		t.Errorf("bad --dashboard-basic-auth: exit %d, stderr %q", code, stderr)
	}
	env := func(k string) string {
		if k == workercli.EnvDashboardBasicAuth {
			return "user-only-s3cret"
		}
		return ""
	}
	code, stderr = runMain(t, env, "--config", cfg, "--dashboard", "0.0.0.0:0")
	if code != cliexit.Usage || !strings.Contains(stderr, workercli.EnvDashboardBasicAuth) || strings.Contains(stderr, "s3cret") {
		t.Errorf("bad $%s: exit %d, stderr %q", workercli.EnvDashboardBasicAuth, code, stderr)
	}
	code, stderr = runMain(t, nil, "--dev", "--config", cfg)
	if code != cliexit.Usage || !strings.Contains(stderr, "--config") {
		t.Errorf("--dev --config: exit %d, stderr %q", code, stderr)
	}
}

// A real worker with its dashboard behind basic auth from the environment.
func TestWorkerServesDashboardWithCredentials(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	sim := httptest.NewServer(vendorsim.New(vendorsim.DefaultConfig()))
	defer sim.Close()
	cfg := writeConfig(t, rs.URL(0), sim.URL)
	addr := freeAddr(t)
	env := func(k string) string {
		if k == workercli.EnvDashboardBasicAuth {
			return "ops:pw-s3cret-0123456789"
		}
		return ""
	}
	r := start(t, env, "--config", cfg, "--dashboard", addr, "--log-format", "json")
	base := "http://" + addr
	waitFor(t, r, 30*time.Second, "healthy /healthz", func() bool {
		code, body := get(t, base+"/healthz", "", "")
		return code == http.StatusOK && strings.Contains(body, `"servers":"running"`)
	})
	for _, path := range []string{"/", "/monitoring/", "/dlq", "/metrics"} {
		if code, _ := get(t, base+path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		if code, body := get(t, base+path, "ops", "pw-s3cret-0123456789"); code != http.StatusOK {
			t.Errorf("GET %s with credentials: %d %.200s", path, code, body)
		}
	}
	_, metrics := get(t, base+"/metrics", "ops", "pw-s3cret-0123456789")
	for _, want := range []string{`vendorq_queue_size{endpoint="forms",state="pending"}`, `vendorq_effective_rate{endpoint="sms"} 10`, "vendorq_redis_up 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code := r.stop(t); code != cliexit.OK {
		t.Fatalf("exit %d after Ctrl-C; stderr:\n%s", code, r.stderr.String())
	}
	if strings.Contains(r.stderr.String(), "pw-s3cret") {
		t.Error("the dashboard password appears in the logs")
	}
	if code, _ := get(t, base+"/healthz", "", ""); code != 0 {
		t.Errorf("the dashboard still answers (%d) after the worker stopped", code)
	}
}

// withDeadLetter starts a redis-server and a simulator and writes a config
// for them; the dead-letter store holds one entry, dead-1 on sms.
func withDeadLetter(t *testing.T) (cfg string, store *dlq.Store) {
	t.Helper()
	rs := redistest.MustStart(t, redistest.Options{})
	sim := httptest.NewServer(vendorsim.New(vendorsim.DefaultConfig()))
	t.Cleanup(sim.Close)
	cfg = writeConfig(t, rs.URL(0), sim.URL)
	conn, err := redisconn.Parse(rs.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	store = dlq.New(rdb)
	payload, _ := json.Marshal(map[string]any{"endpoint": "sms", "phones": []string{"13800000001"}, "content": "x"})
	if err := store.Add(context.Background(), dlq.Entry{ID: "dead-1", Type: "sms:send", Endpoint: "sms", Error: "refused", Class: "permanent", Code: "9001", LastAttempt: time.Now(), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	return cfg, store
}

func TestReadOnlyDashboardRefusesPurge(t *testing.T) {
	cfg, store := withDeadLetter(t)
	ctx := context.Background()
	addr := freeAddr(t)
	r := start(t, nil, "--config", cfg, "--dashboard", addr, "--read-only", "--log-format", "json")
	base := "http://" + addr
	waitFor(t, r, 30*time.Second, "healthy /healthz", func() bool { c, _ := get(t, base+"/healthz", "", ""); return c == http.StatusOK })
	code, page := get(t, base+"/dlq", "", "")
	if code != http.StatusOK || !strings.Contains(page, "dead-1") || strings.Contains(page, "/dlq/purge") || strings.Contains(page, "13800000001") {
		t.Fatalf("read-only /dlq: %d\n%s", code, page)
	}
	resp, err := http.PostForm(base+"/dlq/purge", url.Values{"endpoint": {"sms"}, "confirm": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("read-only purge: %d, want 403", resp.StatusCode)
	}
	if n, _ := store.Count(ctx, "sms"); n != 1 {
		t.Errorf("read-only dashboard purged: %d entries left, want 1", n)
	}
	if code := r.stop(t); code != cliexit.OK {
		t.Fatalf("exit %d; stderr:\n%s", code, r.stderr.String())
	}
}

// The idle section of the config reaches the worker: with
// idle.always_on every endpoint's server runs with no work at all;
// without it none does (docs/idle.md).
func TestIdleAlwaysOnFromTheConfig(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	sim := httptest.NewServer(vendorsim.New(vendorsim.DefaultConfig()))
	defer sim.Close()
	for _, always := range []bool{true, false} {
		cfg := writeConfig(t, rs.URL(0), sim.URL)
		if always {
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("idle: { always_on: true, grace: 2s }\n"); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}
		addr := freeAddr(t)
		r := start(t, nil, "--config", cfg, "--dashboard", addr, "--log-format", "json")
		base := "http://" + addr
		want := map[bool]string{true: "1", false: "0"}[always]
		waitFor(t, r, 30*time.Second, fmt.Sprintf("always_on %v: %s %s on both endpoints", always, metrics.NameServerRunning, want), func() bool {
			code, body := get(t, base+"/metrics", "", "")
			return code == http.StatusOK &&
				strings.Contains(body, metrics.NameServerRunning+`{endpoint="forms"} `+want) &&
				strings.Contains(body, metrics.NameServerRunning+`{endpoint="sms"} `+want)
		})
		if code := r.stop(t); code != cliexit.OK {
			t.Fatalf("exit %d after Ctrl-C; stderr:\n%s", code, r.stderr.String())
		}
	}
}
