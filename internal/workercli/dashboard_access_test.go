package workercli_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/workercli"
)

func TestDashboardSecretsAsLongAsTheAPIs(t *testing.T) {
	if dashboards.MinSecretLen != api.MinTokenLen {
		t.Errorf("dashboards.MinSecretLen = %d, api.MinTokenLen = %d: keep them equal", dashboards.MinSecretLen, api.MinTokenLen)
	}
}

// Bad dashboard access settings end the worker with exit 2 before Redis is
// dialled, naming the flag (and the variable when it came from there),
// never the secret.
func TestDashboardAccessSettingsRefused(t *testing.T) {
	cfg := writeConfig(t, "redis://127.0.0.1:1/0", "http://127.0.0.1:1")
	dir := t.TempDir()
	shortFile := filepath.Join(dir, "short")
	if err := os.WriteFile(shortFile, []byte("csrf-s3cret-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dash := []string{"--config", cfg, "--dashboard", "127.0.0.1:0"}
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		want   []string
		secret string
	}{
		{"short password", append(dash, "--dashboard-basic-auth", "ops:short-s3cret"), nil, []string{"--dashboard-basic-auth", "16 characters"}, "short-s3cret"},
		{"short password from env", dash, map[string]string{workercli.EnvDashboardBasicAuth: "ops:short-s3cret"}, []string{"--dashboard-basic-auth", "$" + workercli.EnvDashboardBasicAuth, "16 characters"}, "short-s3cret"},
		{"short token from env", dash, map[string]string{workercli.EnvDashboardToken: "tok-s3cret"}, []string{"--dashboard-token", "$" + workercli.EnvDashboardToken, "16 characters"}, "tok-s3cret"},
		{"short password in dev", []string{"--dev", "--dashboard-basic-auth", "ops:short-s3cret"}, nil, []string{"--dashboard-basic-auth"}, "short-s3cret"},
		{"bad allowed host", append(dash, "--dashboard-allowed-hosts", "ok.example,https://x.example"), nil, []string{"--dashboard-allowed-hosts", "https://x.example"}, ""},
		{"bad allowed host from env", dash, map[string]string{workercli.EnvDashboardAllowedHosts: "*.example.com"}, []string{"--dashboard-allowed-hosts", "$" + workercli.EnvDashboardAllowedHosts}, ""},
		{"allowed hosts without dashboard", []string{"--config", cfg, "--dashboard-allowed-hosts", "x.example"}, nil, []string{"--dashboard-allowed-hosts needs --dashboard"}, ""},
		{"short csrf secret from env", dash, map[string]string{workercli.EnvDashboardCSRFSecret: "csrf-s3cret-env"}, []string{"$" + workercli.EnvDashboardCSRFSecret, "32 characters"}, "csrf-s3cret-env"},
		{"short csrf secret file", append(dash, "--dashboard-csrf-secret-file", shortFile), nil, []string{"--dashboard-csrf-secret-file", "32 characters"}, "csrf-s3cret-file"},
		{"missing csrf secret file", append(dash, "--dashboard-csrf-secret-file", filepath.Join(dir, "nope")), nil, []string{"--dashboard-csrf-secret-file"}, ""},
		{"csrf secret file without dashboard", []string{"--config", cfg, "--dashboard-csrf-secret-file", shortFile}, nil, []string{"--dashboard-csrf-secret-file needs --dashboard"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := runMain(t, func(k string) string { return c.env[k] }, c.args...)
			if code != cliexit.Usage {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not mention %q", stderr, w)
				}
			}
			if c.secret != "" && strings.Contains(stderr, c.secret) {
				t.Errorf("stderr shows the secret: %q", stderr)
			}
		})
	}
}

var formTokenRe = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// Two workers behind one load balancer (and a reverse proxy naming
// vendorq.example.com): with the same --dashboard-csrf-secret-file, a form
// served by one is accepted by the other; any other Host is refused.
func TestDashboardsBehindABalancer(t *testing.T) {
	cfg, store := withDeadLetter(t)
	secret := filepath.Join(t.TempDir(), "csrf")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef-shared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var bases []string
	for range 2 {
		addr := freeAddr(t)
		env := func(k string) string {
			if k == workercli.EnvDashboardAllowedHosts {
				return "vendorq.example.com"
			}
			return ""
		}
		r := start(t, env, "--config", cfg, "--dashboard", addr, "--dashboard-csrf-secret-file", secret, "--log-format", "json")
		base := "http://" + addr
		waitFor(t, r, 30*time.Second, "healthy /healthz", func() bool { c, _ := get(t, base+"/healthz", "", ""); return c == http.StatusOK })
		bases = append(bases, base)
	}
	send := func(req *http.Request, host string) (int, string) {
		t.Helper()
		req.Host = host
		c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	req, _ := http.NewRequest(http.MethodGet, bases[0]+"/dlq", nil)
	if code, body := send(req, "attacker.example"); code != http.StatusMisdirectedRequest || !strings.Contains(body, "--dashboard-allowed-hosts") {
		t.Errorf("GET /dlq with Host attacker.example: %d %q", code, body)
	}
	req, _ = http.NewRequest(http.MethodGet, bases[0]+"/dlq", nil)
	code, page := send(req, "vendorq.example.com")
	m := formTokenRe.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /dlq with Host vendorq.example.com: %d\n%.300s", code, page)
	}
	req, _ = http.NewRequest(http.MethodPost, bases[1]+"/dlq/purge", strings.NewReader(url.Values{"csrf": {m[1]}, "endpoint": {"sms"}, "confirm": {"yes"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://vendorq.example.com")
	if code, body := send(req, "vendorq.example.com"); code != http.StatusSeeOther {
		t.Fatalf("the other worker refused the form: %d %s", code, body)
	}
	if n, _ := store.Count(context.Background(), "sms"); n != 0 {
		t.Errorf("%d dead letters left after the purge, want 0", n)
	}
}
