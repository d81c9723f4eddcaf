package dashboards_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/dashboards"
)

// The DNS-rebinding attack of issue 9: a page on attacker.example whose
// name now resolves to 127.0.0.1 reads /dlq (with its CSRF token) and
// purges the dead letters of a default loopback, no-auth dashboard. Its
// requests reach the dashboard with the attacker's name in Host.
func TestRebindingRequestsRefused(t *testing.T) {
	f := newFixture(t, nil)
	addDead(t, f.store, "sms", 2)
	// Worst case: the attacker somehow holds a valid token.
	token := f.csrf(t)
	evil := http.Header{"Host": {"attacker.example:8080"}}

	code, body := do(t, f.request(t, http.MethodGet, "/dlq", "", evil))
	if code != http.StatusMisdirectedRequest || strings.Contains(body, "sms-dead-") || strings.Contains(body, `name="csrf"`) {
		t.Fatalf("GET /dlq with Host attacker.example:8080: %d, want 421 and nothing of the page:\n%.500s", code, body)
	}
	if !strings.Contains(body, "--dashboard-allowed-hosts") || !strings.Contains(body, "rebinding") {
		t.Errorf("the refusal does not say which flag to set: %q", body)
	}

	purge := f.request(t, http.MethodPost, "/dlq/purge", "csrf="+token+"&endpoint=sms&confirm=yes",
		http.Header{"Host": evil["Host"], "Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"http://attacker.example:8080"}})
	if code, body := do(t, purge); code != http.StatusMisdirectedRequest {
		t.Errorf("POST /dlq/purge with Host attacker.example:8080: %d %s, want 421", code, body)
	}
	if n, err := f.store.Count(ctxT(t), "sms"); err != nil || n != 2 {
		t.Fatalf("dead letters after the rebinding purge: %d, %v; want 2 (none removed)", n, err)
	}

	// asynqmon's UI and API, and the metrics, are refused alike.
	for _, path := range []string{"/", "/monitoring/", "/monitoring/api/queues", "/metrics"} {
		if code, _ := do(t, f.request(t, http.MethodGet, path, "", evil)); code != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host attacker.example:8080: %d, want 421", path, code)
		}
	}
	pause := f.request(t, http.MethodPost, "/monitoring/api/queues/sms:pause", "", evil)
	if code, _ := do(t, pause); code != http.StatusMisdirectedRequest {
		t.Errorf("POST asynqmon pause with Host attacker.example:8080: %d, want 421", code)
	}
	if qi, err := insp(t, f).GetQueueInfo("sms"); err == nil && qi.Paused {
		t.Error("queue sms paused by a rebinding request")
	}
	// /healthz stays open to probers, whatever Host they send.
	if code, _ := do(t, f.request(t, http.MethodGet, "/healthz", "", evil)); code != http.StatusOK {
		t.Errorf("GET /healthz with another Host: %d, want 200", code)
	}
}

func TestHostAllowlist(t *testing.T) {
	cases := []struct {
		addr    string
		allowed []string
		host    string
		ok      bool
	}{
		{"127.0.0.1:8080", nil, "127.0.0.1:8080", true},
		{"127.0.0.1:8080", nil, "127.0.0.1:9999", true}, // an ssh tunnel, a port mapping
		{"127.0.0.1:8080", nil, "localhost:8080", true},
		{"127.0.0.1:8080", nil, "LocalHost.:8080", true},
		{"127.0.0.1:8080", nil, "127.5.5.5", true},
		{"127.0.0.1:8080", nil, "[::1]:8080", true},
		{"127.0.0.1:8080", nil, "attacker.example:8080", false},
		{"127.0.0.1:8080", nil, "localhost.attacker.example:8080", false},
		{"127.0.0.1:8080", nil, "127.0.0.1.nip.io:8080", false},
		{"127.0.0.1:8080", nil, "192.168.1.10:8080", false},
		{"127.0.0.1:8080", nil, "", false},
		{"10.0.0.5:8080", nil, "10.0.0.5:8080", true}, // the IP it is bound to
		{"10.0.0.5:8080", nil, "10.0.0.6:8080", false},
		{"0.0.0.0:8080", nil, "0.0.0.0:8080", false}, // every interface: name them
		{"[::]:8080", nil, "[::]:8080", false},
		{"0.0.0.0:8080", []string{"vendorq.example.com"}, "vendorq.example.com", true},
		{"0.0.0.0:8080", []string{"vendorq.example.com"}, "VENDORQ.example.com:443", true},
		{"0.0.0.0:8080", []string{"vendorq.example.com"}, "vendorq.example.com.evil:443", false},
		{"0.0.0.0:8080", []string{"proxy.example:8443"}, "proxy.example:8443", true},
		{"0.0.0.0:8080", []string{"proxy.example:8443"}, "proxy.example:9999", false},
		{"0.0.0.0:8080", []string{"proxy.example:8443"}, "proxy.example", false},
		{"0.0.0.0:8080", []string{"[2001:db8::1]"}, "[2001:db8::1]:8080", true},
	}
	f := newFixture(t, nil)
	for _, c := range cases {
		o := f.opts
		o.Addr, o.AllowedHosts = c.addr, c.allowed
		s, err := dashboards.New(o)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		_ = s.Close()
		if got := rec.Code != http.StatusMisdirectedRequest; got != c.ok {
			t.Errorf("bound to %s, allowed %q, Host %q: answer %d, want allowed=%v", c.addr, c.allowed, c.host, rec.Code, c.ok)
		}
	}
}

func TestParseAllowedHosts(t *testing.T) {
	got, err := dashboards.ParseAllowedHosts(" a.example , b.example:8443,,[::1],10.0.0.5 ")
	if err != nil || strings.Join(got, " ") != "a.example b.example:8443 [::1] 10.0.0.5" {
		t.Fatalf("ParseAllowedHosts = %q, %v", got, err)
	}
	for _, bad := range []string{"https://a.example", "a.example/x", "*.example.com", "a.example:0", "a.example:http", "a b", "user@a.example", "a!.example"} {
		_, err := dashboards.ParseAllowedHosts("ok.example," + bad)
		if !errors.Is(err, dashboards.ErrBadAllowedHost) || !strings.Contains(err.Error(), "--dashboard-allowed-hosts") {
			t.Errorf("ParseAllowedHosts(%q): %v; want ErrBadAllowedHost naming the flag", bad, err)
		}
	}
}

// A reverse proxy that forwards its own name as Host works once that name
// is allowed, reads and state-changing requests alike.
func TestReverseProxyWithAllowedHost(t *testing.T) {
	const name = "vendorq.example.com"
	f := newFixture(t, func(o *dashboards.Options) { o.AllowedHosts = []string{name} })
	addDead(t, f.store, "sms", 1)
	target, err := url.Parse(f.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = name // what the browser asked the proxy for
	}})
	defer proxy.Close()

	code, page := do(t, mustRequest(t, http.MethodGet, proxy.URL+"/dlq", ""))
	m := csrfRe.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /dlq through the proxy: %d\n%.300s", code, page)
	}
	// The browser on https://vendorq.example.com posts the form.
	req := mustRequest(t, http.MethodPost, proxy.URL+"/dlq/purge", "csrf="+m[1]+"&endpoint=sms&confirm=yes")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://"+name)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if code, body := do(t, req); code != http.StatusSeeOther {
		t.Fatalf("POST /dlq/purge through the proxy: %d %s, want 303", code, body)
	}
	if n, _ := f.store.Count(ctxT(t), "sms"); n != 0 {
		t.Errorf("the purge through the proxy left %d dead letters", n)
	}

	// Without the name allowed, the proxy's requests are refused, naming the flag.
	g := f.twin(t, func(o *dashboards.Options) { o.AllowedHosts = nil })
	target2, _ := url.Parse(g.http.URL)
	proxy2 := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target2)
		r.Out.Host = name
	}})
	defer proxy2.Close()
	if code, body := do(t, mustRequest(t, http.MethodGet, proxy2.URL+"/dlq", "")); code != http.StatusMisdirectedRequest || !strings.Contains(body, "--dashboard-allowed-hosts") {
		t.Errorf("GET /dlq through a proxy with its name not allowed: %d %q", code, body)
	}
}

// A request carrying the bearer token passes whatever its Host (Prometheus
// in compose.yaml scrapes worker:8080); basic auth does not.
func TestBearerTokenPassesHostCheck(t *testing.T) {
	f := newFixture(t, func(o *dashboards.Options) {
		o.Credentials = dashboards.Credentials{User: "ops", Password: pw1, Token: tok1}
	})
	req := f.request(t, http.MethodGet, "/metrics", "", http.Header{"Host": {"worker:8080"}, "Authorization": {"Bearer " + tok1}})
	if code, body := do(t, req); code != http.StatusOK {
		t.Errorf("GET /metrics with the bearer token and Host worker:8080: %d %.200s", code, body)
	}
	req = f.request(t, http.MethodGet, "/metrics", "", http.Header{"Host": {"worker:8080"}})
	req.SetBasicAuth("ops", pw1)
	if code, _ := do(t, req); code != http.StatusMisdirectedRequest {
		t.Errorf("GET /metrics with basic auth and Host worker:8080: %d, want 421", code)
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
