package dashboards_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/dashboards"
)

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.2:80": true,
		"0.0.0.0:8080": false, ":8080": false, "192.168.1.10:8080": false, "[::]:8080": false, "example.com:80": false,
	}
	for addr, want := range cases {
		got, err := dashboards.IsLoopback(addr)
		if err != nil || got != want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := dashboards.IsLoopback("8080"); err == nil {
		t.Error("IsLoopback(\"8080\"): want an error for a missing host:port form")
	}
}

func TestCheckBind(t *testing.T) {
	open := dashboards.Credentials{}
	if err := dashboards.CheckBind("127.0.0.1:8080", open); err != nil {
		t.Errorf("loopback without credentials refused: %v", err)
	}
	err := dashboards.CheckBind("0.0.0.0:8080", open)
	if !errors.Is(err, dashboards.ErrInsecureBind) {
		t.Fatalf("0.0.0.0 without credentials: got %v, want ErrInsecureBind", err)
	}
	for _, want := range []string{"--dashboard-basic-auth", "--dashboard-token", "0.0.0.0:8080"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %s", err, want)
		}
	}
	for _, c := range []dashboards.Credentials{{User: "u", Password: pw1}, {Token: tok1}} {
		if err := dashboards.CheckBind("0.0.0.0:8080", c); err != nil {
			t.Errorf("0.0.0.0 with %v refused: %v", c, err)
		}
	}
}

func TestParseCredentialsNeverEchoesSecrets(t *testing.T) {
	for _, bad := range []string{"onlyuser", ":pw-secret-1", "user:"} {
		_, err := dashboards.ParseCredentials(bad, "")
		if !errors.Is(err, dashboards.ErrBadCredentials) {
			t.Errorf("ParseCredentials(%q): got %v, want ErrBadCredentials", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret-1") {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
	c, err := dashboards.ParseCredentials("admin:s3cr3t-pass-0123456", "tok-s3cr3t-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(c); strings.Contains(s, "s3cr3t") || !strings.Contains(s, "admin") {
		t.Errorf("Credentials print as %q: want the user and no secret", s)
	}
}

// Test credentials of the minimum length (dashboards.MinSecretLen).
const (
	pw1  = "pw-1-0123456789ab"
	tok1 = "tok-1-0123456789a"
)

func TestAuth(t *testing.T) {
	f := newFixture(t, func(o *dashboards.Options) {
		o.Credentials = dashboards.Credentials{User: "ops", Password: pw1, Token: tok1}
	})
	cases := []struct {
		name  string
		setup func(*http.Request)
		want  int
	}{
		{"none", func(*http.Request) {}, http.StatusUnauthorized},
		{"basic ok", func(r *http.Request) { r.SetBasicAuth("ops", pw1) }, http.StatusOK},
		{"basic wrong password", func(r *http.Request) { r.SetBasicAuth("ops", pw1+"x") }, http.StatusUnauthorized},
		{"basic wrong user", func(r *http.Request) { r.SetBasicAuth("root", pw1) }, http.StatusUnauthorized},
		{"bearer ok", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok1) }, http.StatusOK},
		{"bearer wrong", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok1+"x") }, http.StatusUnauthorized},
		{"password as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+pw1) }, http.StatusUnauthorized},
	}
	// Each request from its own client address: failed logins from one
	// are throttled (TestFailedLoginsThrottledPerClient).
	n := 0
	for _, path := range []string{"/", "/monitoring/", "/monitoring/api/queues", "/dlq", "/metrics"} {
		for _, c := range cases {
			n++
			req := httptest.NewRequest(http.MethodGet, path, nil)
			c.setup(req)
			if rec := f.serveFrom(req, fmt.Sprintf("192.0.2.%d:4321", n)); rec.Code != c.want {
				t.Errorf("GET %s with %s: %d, want %d: %.200s", path, c.name, rec.Code, c.want, rec.Body.String())
			}
		}
	}
	// /healthz stays open for probers, and says nothing secret.
	if code, body := f.get(t, "/healthz"); code != http.StatusOK || strings.Contains(body, tok1) {
		t.Errorf("GET /healthz without credentials: %d %s", code, body)
	}
	// A 401 asks the browser for basic auth.
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/dlq", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
		t.Errorf("WWW-Authenticate = %q, want a Basic challenge", h)
	}
}

func TestOpenDashboardNeedsNoCredentials(t *testing.T) {
	f := newFixture(t, nil)
	for _, path := range []string{"/", "/monitoring/", "/dlq", "/metrics", "/healthz"} {
		if code, body := f.get(t, path); code != http.StatusOK {
			t.Errorf("GET %s: %d %.200s", path, code, body)
		}
	}
}
