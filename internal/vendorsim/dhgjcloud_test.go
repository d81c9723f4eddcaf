package vendorsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// dhgjClock is a settable clock for Config.Now.
type dhgjClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *dhgjClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *dhgjClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dhgjEnv is a simulator on loopback and a raw HTTP client that sends only
// the headers each test sets (no User-Agent, no Accept-Encoding).
type dhgjEnv struct {
	t   *testing.T
	sim *Sim
	srv *httptest.Server
	hc  *http.Client
}

func newDhgjEnv(t *testing.T, cfg Config) *dhgjEnv {
	t.Helper()
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &dhgjEnv{t: t, sim: sim, srv: srv, hc: &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}}
}

type dhgjReply struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *dhgjEnv) do(path string, h http.Header, body string) dhgjReply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = h.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if _, set := req.Header["User-Agent"]; !set {
		req.Header["User-Agent"] = []string{""} // send none
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := dhgjReply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &r.body); err != nil {
		e.t.Fatalf("POST %s: HTTP %d, body not a JSON object: %q", path, resp.StatusCode, b)
	}
	return r
}

func (e *dhgjEnv) tokenReq(form url.Values) dhgjReply {
	e.t.Helper()
	return e.do("/oauth/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
}

func (e *dhgjEnv) goodForm() url.Values {
	c := e.sim.Config().Dhgjcloud
	return url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "grant_type": {"client_credentials"}, "scope": {""}}
}

func (e *dhgjEnv) token() string {
	e.t.Helper()
	r := e.tokenReq(e.goodForm())
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" {
		e.t.Fatalf("token: HTTP %d %v", r.status, r.body)
	}
	return tok
}

func (e *dhgjEnv) call(path, auth, body string) dhgjReply {
	e.t.Helper()
	return e.do(path, http.Header{"Authorization": {auth}, "Content-Type": {"application/json; charset=utf-8"}}, body)
}

var dhgjUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDhgjSimTokenIssuesAndInvalidates(t *testing.T) {
	e := newDhgjEnv(t, Config{})
	r := e.tokenReq(e.goodForm())
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d %v", r.status, r.body)
	}
	first, _ := r.body["access_token"].(string)
	if !dhgjUUID.MatchString(first) || r.body["token_type"] != "bearer" || r.body["expires_in"] != float64(7*24*3600) || r.body["scope"] != "" {
		t.Fatalf("token answer %v, want the document's shape with a UUID token and 7 days", r.body)
	}
	if got := e.call("/x/y", "bearer "+first, `{"a":1}`); got.status != http.StatusOK || got.body["code"] != float64(200) {
		t.Fatalf("call with the token: %d %v", got.status, got.body)
	}

	second := e.token()
	if second == first {
		t.Fatal("a second token request returned the same token")
	}
	if got := e.call("/x/y", "bearer "+first, `{"a":2}`); got.status != http.StatusUnauthorized {
		t.Fatalf("old token after a new one was issued: HTTP %d, want 401", got.status)
	}
	if got := e.call("/x/y", "Bearer "+second, `{"a":3}`); got.status != http.StatusOK {
		t.Fatalf("new token (scheme in any case): HTTP %d %v", got.status, got.body)
	}
	st := e.sim.Stats()[TargetDhgjcloud]
	if st.Tokens != 2 || st.Calls != 3 || st.Accepted != 2 || st.Codes["http_401"] != 1 {
		t.Fatalf("stats %+v: want 2 tokens, 3 calls (token requests are not calls), 2 accepted, one 401", st)
	}
}

func TestDhgjSimTokenRefusals(t *testing.T) {
	e := newDhgjEnv(t, Config{})
	bad := e.goodForm()
	bad.Set("client_secret", "wrong")
	if r := e.tokenReq(bad); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %v, want 401 invalid_client", r.status, r.body)
	}
	badID := e.goodForm()
	badID.Set("client_id", "someone")
	if r := e.tokenReq(badID); r.status != http.StatusUnauthorized {
		t.Fatalf("bad client_id: %d, want 401", r.status)
	}
	grant := e.goodForm()
	grant.Set("grant_type", "password")
	if r := e.tokenReq(grant); r.status != http.StatusBadRequest || r.body["error"] != "unsupported_grant_type" {
		t.Fatalf("bad grant: %d %v, want 400 unsupported_grant_type", r.status, r.body)
	}
	if r := e.do("/oauth/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Go-http-client/1.1"}},
		e.goodForm().Encode()); r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" {
		t.Fatalf("token request with a User-Agent: %d %v, want 400", r.status, r.body)
	}
	js, _ := json.Marshal(map[string]string{"client_id": "sim-client"})
	if r := e.do("/oauth/token", http.Header{"Content-Type": {"application/json"}}, string(js)); r.status != http.StatusBadRequest {
		t.Fatalf("JSON token request: %d, want 400", r.status)
	}
	st := e.sim.Stats()[TargetDhgjcloud]
	if st.Tokens != 0 || st.Codes["token_invalid_client"] != 2 || st.Codes["token_unsupported_grant_type"] != 1 || st.Codes["token_invalid_request"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDhgjSimCallRules(t *testing.T) {
	e := newDhgjEnv(t, Config{})
	tok := e.token()
	auth := "bearer " + tok
	hdr := http.Header{"Authorization": {auth}, "Content-Type": {"application/json"}}
	with := func(k, v string) http.Header { h := hdr.Clone(); h.Set(k, v); return h }

	for _, tc := range []struct {
		name   string
		h      http.Header
		body   string
		status int
		code   float64 // body code when status is 200
	}{
		{"Go's default User-Agent", with("User-Agent", "Go-http-client/1.1"), `{"a":1}`, 400, 0},
		{"Accept-Encoding", with("Accept-Encoding", "gzip"), `{"a":1}`, 400, 0},
		{"any other header", with("X-Request-Id", "1"), `{"a":1}`, 400, 0},
		{"no Authorization", http.Header{"Content-Type": {"application/json"}}, `{"a":1}`, 401, 0},
		{"no scheme", with("Authorization", tok), `{"a":1}`, 401, 0},
		{"wrong token", with("Authorization", "bearer 00000000-0000-4000-8000-000000000000"), `{"a":1}`, 401, 0},
		{"form content type", with("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), `{"a":1}`, 200, 400},
		{"array body", hdr, `[{"a":1}]`, 200, 400},
		{"two objects", hdr, `{"a":1}{"b":2}`, 200, 400},
		{"not JSON", hdr, `a=1`, 200, 400},
		{"ok", hdr, `{"a":1,"b":"x"}`, 200, 200},
		{"same data, keys reordered", hdr, `{ "b":"x", "a":1 }`, 200, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("/api/record", tc.h, tc.body)
			if r.status != tc.status {
				t.Fatalf("HTTP %d %v, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 200 && r.body["code"] != tc.code {
				t.Fatalf("code %v, want %v (%v)", r.body["code"], tc.code, r.body)
			}
			if tc.code == 200 {
				if d, _ := r.body["data"].(map[string]any); d["id"] == "" || d["id"] == nil {
					t.Fatalf("success without data.id: %v", r.body)
				}
			}
			if tc.status == 401 && !strings.Contains(strings.ToLower(r.header.Get("WWW-Authenticate")), "bearer") {
				t.Fatalf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	st := e.sim.Stats()[TargetDhgjcloud]
	if st.Accepted != 2 || st.Duplicates != 1 || st.Codes["http_400"] != 3 || st.Codes["http_401"] != 3 || st.Codes["400"] != 4 {
		t.Fatalf("stats %+v", st)
	}
	// The idempotency data is the path plus the canonical body.
	if r := e.call("/api/other", auth, `{"a":1,"b":"x"}`); r.status != 200 || e.sim.Stats()[TargetDhgjcloud].Duplicates != 1 {
		t.Fatalf("same data on another path counted as a duplicate")
	}
}

func TestDhgjSimRateLimit(t *testing.T) {
	clk := &dhgjClock{t: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)}
	e := newDhgjEnv(t, Config{Now: clk.now, Dhgjcloud: DhgjcloudConfig{Rate: 2}})
	auth := "bearer " + e.token()
	for i := 0; i < 2; i++ {
		if r := e.call("/p", auth, `{"i":1}`); r.status != 200 {
			t.Fatalf("call %d within the rate: HTTP %d", i, r.status)
		}
	}
	r := e.call("/p", auth, `{"i":3}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third call in one second: HTTP %d Retry-After %q, want 429 and 1", r.status, r.header.Get("Retry-After"))
	}
	clk.add(time.Second) // the window slides past all three
	if r := e.call("/p", auth, `{"i":4}`); r.status != 200 {
		t.Fatalf("a second later: HTTP %d", r.status)
	}
	if st := e.sim.Stats()[TargetDhgjcloud]; st.Codes["http_429"] != 1 || st.Accepted != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDhgjSimTokenExpiry(t *testing.T) {
	clk := &dhgjClock{t: time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)}
	e := newDhgjEnv(t, Config{Now: clk.now})
	e.sim.SetDhgjTokenTTL(2 * time.Second)
	r := e.tokenReq(e.goodForm())
	if r.body["expires_in"] != float64(2) {
		t.Fatalf("expires_in %v, want 2", r.body["expires_in"])
	}
	auth := "bearer " + r.body["access_token"].(string)
	clk.add(1999 * time.Millisecond)
	if r := e.call("/p", auth, `{}`); r.status != 200 {
		t.Fatalf("before expiry: HTTP %d", r.status)
	}
	clk.add(time.Millisecond)
	if r := e.call("/p", auth, `{}`); r.status != 401 {
		t.Fatalf("at expiry: HTTP %d, want 401", r.status)
	}

	e.sim.SetDhgjTokenTTL(0) // back to the configured 7 days
	auth = "bearer " + e.token()
	e.sim.ExpireDhgjToken()
	if r := e.call("/p", auth, `{}`); r.status != 401 {
		t.Fatalf("after ExpireDhgjToken: HTTP %d, want 401", r.status)
	}
}

func TestDhgjSimInjected(t *testing.T) {
	e := newDhgjEnv(t, Config{})
	auth := "bearer " + e.token()
	cases := []struct {
		fault      Fault
		status     int
		code       any // body code
		retryAfter string
	}{
		{Fault{Code: "http_429", RetryAfter: 3}, 429, float64(429), "3"},
		{Fault{Code: "http_500"}, 500, float64(500), ""},
		{Fault{Code: "http_400"}, 400, float64(400), ""},
		{Fault{Code: "500"}, 200, float64(500), ""},
		{Fault{Code: "E01"}, 200, "E01", ""},
		{Fault{Code: "http_401"}, 401, float64(401), ""},
	}
	for _, tc := range cases {
		if err := e.sim.SetFault(TargetDhgjcloud, Fault{Code: tc.fault.Code, RetryAfter: tc.fault.RetryAfter, Times: 1}); err != nil {
			t.Fatal(err)
		}
		r := e.call("/p", auth, `{}`)
		if r.status != tc.status || r.body["code"] != tc.code || r.header.Get("Retry-After") != tc.retryAfter {
			t.Fatalf("%s: HTTP %d %v Retry-After %q", tc.fault.Code, r.status, r.body, r.header.Get("Retry-After"))
		}
	}
	// The injected 401 also invalidated the token, as a real expiry would.
	if r := e.call("/p", auth, `{}`); r.status != 401 {
		t.Fatalf("after injected http_401 the token still works (HTTP %d)", r.status)
	}
	st := e.sim.Stats()[TargetDhgjcloud]
	for _, c := range []string{"http_429", "http_500", "http_400", "500", "E01"} {
		if st.Codes[c] != 1 {
			t.Fatalf("code %s counted %d times, want 1 (%v)", c, st.Codes[c], st.Codes)
		}
	}
	if st.Codes["http_401"] != 2 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}
