package vendorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// The document's token answer.
const (
	dhgjDocTokenAnswer = `{"access_token": "62c54b72-c85f-4a4e-8fd0-6941744d0af7", "token_type":"bearer", "expires_in": 43199, "scope":""}`
	dhgjDocToken       = "62c54b72-c85f-4a4e-8fd0-6941744d0af7"
)

// All dhgjcloud tests share one Redis database (there are only 64 for the
// whole package, and -count=N reruns tests); each rig gets its own token key.
var (
	dhgjDBOnce sync.Once
	dhgjDB     int
	dhgjKeySeq atomic.Int64
)

func dhgjSharedDB(t *testing.T) int {
	dhgjDBOnce.Do(func() { dhgjDB = testRedis.FreshDB(t) })
	return dhgjDB
}

// dhgjNewKey returns an unused token key (hash-tagged like production keys).
func dhgjNewKey() string { return fmt.Sprintf("vq:{dhgj-test-%d}:token", dhgjKeySeq.Add(1)) }

// dhgjRig is a simulator on loopback plus a fresh Redis database; every
// client() it makes has its own go-redis and HTTP client, as a separate
// worker process would.
type dhgjRig struct {
	t   *testing.T
	sim *vendorsim.Sim
	srv *httptest.Server
	db  int
	key string        // the token key of this rig's clients
	rdb *redis.Client // the test's own view of Redis
}

func newDhgjRig(t *testing.T, cfg vendorsim.Config) *dhgjRig {
	t.Helper()
	sim := vendorsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	db := dhgjSharedDB(t)
	return &dhgjRig{t: t, sim: sim, srv: srv, db: db, key: dhgjNewKey(), rdb: testRedis.Client(t, db)}
}

func (r *dhgjRig) config() DhgjcloudConfig {
	sc := r.sim.Config().Dhgjcloud
	return DhgjcloudConfig{
		BaseURL: r.srv.URL, ClientID: sc.ClientID, ClientSecret: sc.ClientSecret,
		Redis: testRedis.Client(r.t, r.db), TokenKey: r.key, Timeout: 5 * time.Second,
	}
}

func (r *dhgjRig) client(mod func(*DhgjcloudConfig)) *Dhgjcloud {
	r.t.Helper()
	cfg := r.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewDhgjcloud(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *dhgjRig) stats() vendorsim.Stats { return r.sim.Stats()[vendorsim.TargetDhgjcloud] }

func (r *dhgjRig) fault(f vendorsim.Fault) {
	r.t.Helper()
	if err := r.sim.SetFault(vendorsim.TargetDhgjcloud, f); err != nil {
		r.t.Fatal(err)
	}
}

func dhgjCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantDhgjErr checks err's class and code and that it carries no secret.
func wantDhgjErr(t *testing.T, err error, class Class, code string) *Error {
	t.Helper()
	e := AsError(err)
	if e == nil {
		t.Fatalf("error %v (%T), want a *Error %s/%s", err, err, class, code)
	}
	if e.Class != class || e.Code != code || e.Vendor != VendorDhgjcloud {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Class, e.Code, err, class, code)
	}
	for _, secret := range []string{"sim-client-secret", dhgjDocToken} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error text contains a secret: %v", err)
		}
	}
	return e
}

func TestDhgjNewValidation(t *testing.T) {
	ok := DhgjcloudConfig{ClientID: "id", ClientSecret: "s", Redis: testRedis.Client(t, dhgjSharedDB(t)), TokenKey: "k"}
	for _, tc := range []struct {
		field string
		mod   func(*DhgjcloudConfig)
	}{
		{"ClientID", func(c *DhgjcloudConfig) { c.ClientID = "" }},
		{"ClientSecret", func(c *DhgjcloudConfig) { c.ClientSecret = "" }},
		{"Redis", func(c *DhgjcloudConfig) { c.Redis = nil }},
		{"TokenKey", func(c *DhgjcloudConfig) { c.TokenKey = "" }},
		{"BaseURL", func(c *DhgjcloudConfig) { c.BaseURL = "saeapi.dhgjcloud.com:18081" }},
		{"BaseURL", func(c *DhgjcloudConfig) { c.BaseURL = "ftp://h/" }},
		{"HTTPClient", func(c *DhgjcloudConfig) { c.HTTPClient = &http.Client{} }},
		{"HTTPClient", func(c *DhgjcloudConfig) { c.HTTPClient = &http.Client{Transport: &http.Transport{}} }},
	} {
		cfg := ok
		tc.mod(&cfg)
		if _, err := NewDhgjcloud(cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("want an error naming %s, got %v", tc.field, err)
		}
	}
	c, err := NewDhgjcloud(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.base.String() != DhgjcloudDefaultBaseURL || c.lockKey != "k:lock" {
		t.Fatalf("defaults: base %s lock %s", c.base, c.lockKey)
	}
	ok.HTTPClient = NewHTTPClient(time.Second)
	if _, err := NewDhgjcloud(ok); err != nil {
		t.Fatalf("NewHTTPClient must be accepted: %v", err)
	}
}

func TestDhgjBadInputMakesNoCall(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	for _, tc := range []struct{ path, data string }{
		{"", `{}`},
		{"/", `{}`},
		{"api/x?y=1", `{}`},
		{"api/x#f", `{}`},
		{"api/../oauth/token", `{}`},
		{"api//x", `{}`},
		{"api/x y", `{}`},
		{"/oauth/token", `{}`},
		{"OAuth/Token", `{}`},
		{"api/x", ``},
		{"api/x", `[]`},
		{"api/x", `null`},
		{"api/x", `"s"`},
		{"api/x", `{"a":`},
		{"api/x", `{} {}`},
	} {
		_, err := c.CreateRecord(dhgjCtx(t), tc.path, json.RawMessage(tc.data))
		e := wantDhgjErr(t, err, ClassPermanent, "bad_input")
		if !errors.Is(e, ErrBadRequest) {
			t.Fatalf("%q %q: not ErrBadRequest", tc.path, tc.data)
		}
	}
	if st := rig.stats(); st.Calls != 0 || st.Tokens != 0 || c.TokenRequests() != 0 {
		t.Fatalf("bad input reached the vendor: %+v, token requests %d", st, c.TokenRequests())
	}
}

func TestDhgjClassification(t *testing.T) {
	ra := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		body   string
		class  Class
		code   string
		id     string
		delay  time.Duration
	}{
		{"code 200 with data.id", 200, nil, `{"code":200,"message":"success","data":{"id":"42"}}`, ClassOK, "", "42", 0},
		{"code as text, numeric id", 200, nil, `{"code":"200","data":{"id":7}}`, ClassOK, "", "7", 0},
		{"top-level id", 200, nil, `{"code":200,"id":"9"}`, ClassOK, "", "9", 0},
		{"no id", 200, nil, `{"code":200,"message":"success","data":null}`, ClassOK, "", "", 0},
		{"data not an object", 200, nil, `{"code":200,"data":[1]}`, ClassOK, "", "", 0},
		{"参数错误", 200, nil, `{"code":400,"message":"参数错误"}`, ClassPermanent, "400", "", 0},
		{"business 403", 200, nil, `{"code":403,"message":"无权限"}`, ClassPermanent, "403", "", 0},
		{"business 500", 200, nil, `{"code":500,"message":"服务端错误"}`, ClassTransient, "500", "", 0},
		{"business 429", 200, ra("2"), `{"code":429,"message":"频率超限"}`, ClassThrottled, "429", "", 2 * time.Second},
		{"business 401", 200, nil, `{"code":401,"message":"token失效"}`, ClassToken, "401", "", 0},
		{"HTTP 401 (token expired)", 401, nil, `{"error":"invalid_token","error_description":"Invalid access token: ` + dhgjDocToken + `"}`, ClassToken, "http_401", "", 0},
		{"HTTP 429", 429, ra("1"), `{"code":429}`, ClassThrottled, "http_429", "", time.Second},
		{"HTTP 429 without Retry-After", 429, nil, ``, ClassThrottled, "http_429", "", 0},
		{"HTTP 500", 500, nil, `{"code":500,"message":"Internal Server Error"}`, ClassTransient, "http_500", "", 0},
		{"HTTP 502 html", 502, nil, `<html>bad gateway</html>`, ClassTransient, "http_502", "", 0},
		{"HTTP 503", 503, ra("5"), ``, ClassTransient, "http_503", "", 5 * time.Second},
		{"HTTP 408", 408, nil, ``, ClassTransient, "http_408", "", 0},
		{"HTTP 400 (unknown header)", 400, nil, `{"code":400,"message":"Bad Request"}`, ClassPermanent, "http_400", "", 0},
		{"HTTP 404", 404, nil, ``, ClassPermanent, "http_404", "", 0},
		{"HTTP 302", 302, nil, ``, ClassPermanent, "http_302", "", 0},
		{"garbage", 200, nil, `{"oops":`, ClassTransient, "malformed", "", 0},
		{"empty", 200, nil, ``, ClassTransient, "malformed", "", 0},
		{"no code", 200, nil, `{"message":"success"}`, ClassTransient, "malformed", "", 0},
		{"fractional code", 200, nil, `{"code":200.5}`, ClassTransient, "malformed", "", 0},
		{"array", 200, nil, `[{"code":200}]`, ClassTransient, "malformed", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := decodeDhgjcloud(tc.status, tc.h, []byte(tc.body))
			if tc.class == ClassOK {
				if err != nil || res.ID != tc.id {
					t.Fatalf("got %+v, %v; want id %q", res, err, tc.id)
				}
				return
			}
			e := wantDhgjErr(t, err, tc.class, tc.code)
			if e.Delay != tc.delay {
				t.Fatalf("delay %v, want %v", e.Delay, tc.delay)
			}
			if tc.code == "malformed" && !errors.Is(err, ErrMalformedAnswer) {
				t.Fatal("malformed answer does not wrap ErrMalformedAnswer")
			}
			if tc.code == "400" && e.Message != "参数错误" {
				t.Fatalf("message %q, want the vendor's", e.Message)
			}
		})
	}
}

func TestDhgjTokenClassification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		class  Class
		code   string
		typ    string
		life   time.Duration
	}{
		{"document example", 200, dhgjDocTokenAnswer, ClassOK, "", "bearer", 43199 * time.Second},
		{"no token_type", 200, `{"access_token":"` + dhgjDocToken + `","expires_in":60}`, ClassOK, "", "bearer", time.Minute},
		{"token_type kept as given", 200, `{"access_token":"` + dhgjDocToken + `","token_type":"Bearer","expires_in":"3600"}`, ClassOK, "", "Bearer", time.Hour},
		{"very long life is cut", 200, `{"access_token":"` + dhgjDocToken + `","expires_in":99999999999}`, ClassOK, "", "bearer", 30 * 24 * time.Hour},
		{"bad client", 401, `{"error":"invalid_client","error_description":"Bad client credentials"}`, ClassPermanent, "token_http_401", "", 0},
		{"bad request", 400, `{"error":"unsupported_grant_type"}`, ClassPermanent, "token_http_400", "", 0},
		{"forbidden", 403, ``, ClassPermanent, "token_http_403", "", 0},
		{"throttled", 429, ``, ClassThrottled, "token_http_429", "", 0},
		{"server error", 500, `oops`, ClassTransient, "token_http_500", "", 0},
		{"unavailable", 503, ``, ClassTransient, "token_http_503", "", 0},
		{"no access_token", 200, `{"token_type":"bearer","expires_in":43199}`, ClassTransient, "malformed", "", 0},
		{"token with a space", 200, `{"access_token":"a b","expires_in":43199}`, ClassTransient, "malformed", "", 0},
		{"token_type with a newline", 200, `{"access_token":"` + dhgjDocToken + `","token_type":"bearer\r\nX: 1","expires_in":43199}`, ClassTransient, "malformed", "", 0},
		{"zero expires_in", 200, `{"access_token":"` + dhgjDocToken + `","expires_in":0}`, ClassTransient, "malformed", "", 0},
		{"no expires_in", 200, `{"access_token":"` + dhgjDocToken + `"}`, ClassTransient, "malformed", "", 0},
		{"garbage", 200, `{"access_token":"` + dhgjDocToken, ClassTransient, "malformed", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := decodeDhgjToken(tc.status, nil, []byte(tc.body))
			if tc.class == ClassOK {
				if err != nil || ans.AccessToken != dhgjDocToken || ans.TokenType != tc.typ || ans.Life != tc.life {
					t.Fatalf("got %+v, %v", ans, err)
				}
				return
			}
			wantDhgjErr(t, err, tc.class, tc.code) // also: the token in the body is not quoted
		})
	}
}

func TestDhgjCacheTTL(t *testing.T) {
	for life, want := range map[time.Duration]time.Duration{
		43199 * time.Second:  43139 * time.Second, // 1% would be 432 s: capped at 60 s
		7 * 24 * time.Hour:   7*24*time.Hour - time.Minute,
		1000 * time.Second:   990 * time.Second,       // 1%
		100 * time.Second:    99 * time.Second,        // 1%
		3 * time.Second:      2800 * time.Millisecond, // at least 200 ms
		time.Second:          900 * time.Millisecond,  // never more than a tenth of the life
		3 * time.Second / 2:  1350 * time.Millisecond,
		10 * time.Second:     9800 * time.Millisecond,
		120 * 24 * time.Hour: 120*24*time.Hour - time.Minute,
	} {
		if got := dhgjCacheTTL(life); got != want {
			t.Errorf("dhgjCacheTTL(%v) = %v, want %v", life, got, want)
		}
	}
}

func TestDhgjSuccessAndTokenReuse(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	res, err := c.CreateRecord(dhgjCtx(t), "/api/record", json.RawMessage(`{"name": "张三", "n": 1}`))
	if err != nil || res.ID != "1" {
		t.Fatalf("got %+v, %v", res, err)
	}
	if res, err = c.CreateRecord(dhgjCtx(t), "api/record", json.RawMessage(`{"name":"李四"}`)); err != nil || res.ID != "2" {
		t.Fatalf("second call: %+v, %v", res, err)
	}
	st := rig.stats()
	if st.Tokens != 1 || c.TokenRequests() != 1 || st.Accepted != 2 || st.Codes["http_400"] != 0 {
		t.Fatalf("stats %+v, token requests %d: want one token for both calls and no 400", st, c.TokenRequests())
	}
	// The shared token expires in Redis a margin before the vendor's 7 days.
	pttl, err := rig.rdb.PTTL(dhgjCtx(t), rig.key).Result()
	if err != nil || pttl > 7*24*time.Hour-time.Minute || pttl < 7*24*time.Hour-2*time.Minute {
		t.Fatalf("token key PTTL %v (%v), want just under 7 days minus 60 s", pttl, err)
	}
	if n, _ := rig.rdb.Exists(dhgjCtx(t), rig.key+":lock").Result(); n != 0 {
		t.Fatal("lock left behind")
	}
}

// The vendor answers 400 to headers its sample does not show; this records
// exactly what reaches a server.
func TestDhgjSendsOnlyDocumentedHeaders(t *testing.T) {
	type seen struct {
		path, host string
		header     http.Header
		form       url.Values
		body       string
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{path: r.URL.Path, host: r.Host, header: r.Header.Clone(), body: string(b)}
		s.form, _ = url.ParseQuery(string(b))
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		if r.URL.Path == "/oauth/token" {
			_, _ = io.WriteString(w, dhgjDocTokenAnswer)
			return
		}
		_, _ = io.WriteString(w, `{"code":200,"message":"success","data":{"id":"1"}}`)
	}))
	defer srv.Close()
	c, err := NewDhgjcloud(DhgjcloudConfig{BaseURL: srv.URL + "/", ClientID: "a4fb324", ClientSecret: "0bdf59e68",
		Redis: testRedis.Client(t, dhgjSharedDB(t)), TokenKey: dhgjNewKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRecord(dhgjCtx(t), "api/x", json.RawMessage(` { "a": 1, "b": [1, 2] } `)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d requests, want token + call", len(got))
	}
	keys := func(h http.Header) string {
		var k []string
		for name := range h {
			k = append(k, name)
		}
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	host := strings.TrimPrefix(srv.URL, "http://")

	tok := got[0]
	if tok.path != "/oauth/token" || tok.host != host || keys(tok.header) != "Content-Length,Content-Type" ||
		tok.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("token request: %s host %s headers %v", tok.path, tok.host, tok.header)
	}
	wantForm := url.Values{"client_id": {"a4fb324"}, "client_secret": {"0bdf59e68"}, "grant_type": {"client_credentials"}, "scope": {""}}
	if tok.form.Encode() != wantForm.Encode() {
		t.Fatalf("token form %v, want %v", tok.form, wantForm)
	}

	call := got[1]
	if call.path != "/api/x" || call.host != host || keys(call.header) != "Authorization,Content-Length,Content-Type" {
		t.Fatalf("call: %s host %s headers %v", call.path, call.host, call.header)
	}
	if call.header.Get("Authorization") != "bearer "+dhgjDocToken || call.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("call headers %v", call.header)
	}
	if call.body != `{"a":1,"b":[1,2]}` || call.header.Get("Content-Length") != fmt.Sprint(len(call.body)) {
		t.Fatalf("call body %q (Content-Length %s), want the compact JSON", call.body, call.header.Get("Content-Length"))
	}
}

func TestDhgj401RefreshesOnceAndRetries(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":0}`)); err != nil {
		t.Fatal(err)
	}
	rig.fault(vendorsim.Fault{Code: "http_401", Times: 1})
	res, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":1}`))
	if err != nil || res.ID != "2" {
		t.Fatalf("after one 401: %+v, %v; want a retried success", res, err)
	}
	if st := rig.stats(); st.Tokens != 2 || c.TokenRequests() != 2 || st.Codes["http_401"] != 1 || st.Calls != 3 {
		t.Fatalf("stats %+v, token requests %d: want one refresh and one retry", st, c.TokenRequests())
	}
}

func TestDhgjDouble401IsTokenClass(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":0}`)); err != nil {
		t.Fatal(err)
	}
	rig.fault(vendorsim.Fault{Code: "http_401", Times: 2})
	_, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":1}`))
	wantDhgjErr(t, err, ClassToken, "http_401")
	if st := rig.stats(); st.Tokens != 2 || st.Calls != 3 {
		t.Fatalf("stats %+v: want one refresh and exactly one retry", st)
	}
	// The token that got the second 401 is dropped too, so the next call starts fresh.
	if n, _ := rig.rdb.Exists(dhgjCtx(t), rig.key).Result(); n != 0 {
		t.Fatal("the rejected token is still cached")
	}
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":2}`)); err != nil || rig.stats().Tokens != 3 {
		t.Fatalf("next call: %v, tokens %d", err, rig.stats().Tokens)
	}
}

func TestDhgjFaultsOverLoopback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault vendorsim.Fault
		class Class
		code  string
		delay time.Duration
	}{
		{"injected 429", vendorsim.Fault{Code: "http_429", RetryAfter: 1}, ClassThrottled, "http_429", time.Second},
		{"HTTP 500", vendorsim.Fault{Code: "http_500"}, ClassTransient, "http_500", 0},
		{"HTTP 503", vendorsim.Fault{Code: "http_503", RetryAfter: 7}, ClassTransient, "http_503", 7 * time.Second},
		{"HTTP 400", vendorsim.Fault{Code: "http_400"}, ClassPermanent, "http_400", 0},
		{"business 500", vendorsim.Fault{Code: "500"}, ClassTransient, "500", 0},
		{"business 400", vendorsim.Fault{Code: "400"}, ClassPermanent, "400", 0},
		{"garbage answer", vendorsim.Fault{Code: "garbage"}, ClassTransient, "malformed", 0},
		{"outage", vendorsim.Fault{Outage: true}, ClassTransient, "conn", 0},
		{"timeout", vendorsim.Fault{Latency: 2 * time.Second}, ClassTransient, "timeout", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newDhgjRig(t, vendorsim.Config{})
			c := rig.client(func(cfg *DhgjcloudConfig) { cfg.HTTPClient = NewHTTPClient(300 * time.Millisecond) })
			rig.fault(tc.fault)
			_, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{}`))
			e := wantDhgjErr(t, err, tc.class, tc.code)
			if e.Delay != tc.delay {
				t.Fatalf("delay %v, want %v", e.Delay, tc.delay)
			}
			if c.TokenRequests() != 1 || rig.stats().Calls != 1 {
				t.Fatalf("token requests %d, calls %d: want 1 and 1 (no retry inside the client)", c.TokenRequests(), rig.stats().Calls)
			}
		})
	}
}

func TestDhgjRateLimitOverLoopback(t *testing.T) {
	frozen := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC) // every call in the same second
	rig := newDhgjRig(t, vendorsim.Config{Now: func() time.Time { return frozen }, Dhgjcloud: vendorsim.DhgjcloudConfig{Rate: 1}})
	c := rig.client(nil)
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":1}`)); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":2}`))
	if e := wantDhgjErr(t, err, ClassThrottled, "http_429"); e.Delay != time.Second {
		t.Fatalf("delay %v, want the vendor's Retry-After: 1", e.Delay)
	}
}

func TestDhgjBadClientSecretIsPermanentAndShared(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	bad := func(cfg *DhgjcloudConfig) { cfg.ClientSecret = "wrong-secret-value" }
	clients := []*Dhgjcloud{rig.client(bad), rig.client(bad), rig.client(bad)}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for _, c := range clients {
		for range 10 {
			wg.Go(func() {
				_, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{}`))
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e := wantDhgjErr(t, err, ClassPermanent, "token_http_401")
		if strings.Contains(e.Error(), "wrong-secret-value") {
			t.Fatalf("error shows the secret: %v", e)
		}
	}
	var requests int64
	for _, c := range clients {
		requests += c.TokenRequests()
	}
	// The failure is shared through the lock for a moment, so the 30
	// callers do not each try the token endpoint in turn.
	if st := rig.stats(); requests != 1 || st.Codes["token_invalid_client"] != 1 || st.Calls != 0 {
		t.Fatalf("token requests %d, stats %+v: want one refused token request and no call", requests, st)
	}
}

func TestDhgjContextCancel(t *testing.T) {
	t.Run("slow call", func(t *testing.T) {
		rig := newDhgjRig(t, vendorsim.Config{})
		c := rig.client(nil)
		rig.fault(vendorsim.Fault{Latency: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.CreateRecord(ctx, "p", json.RawMessage(`{}`))
		wantDhgjErr(t, err, ClassTransient, "timeout")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v after the context ended", d)
		}
	})
	t.Run("waiting for another process's token", func(t *testing.T) {
		rig := newDhgjRig(t, vendorsim.Config{})
		c := rig.client(nil)
		// A live holder elsewhere: the lock stays for a minute.
		if err := rig.rdb.Set(dhgjCtx(t), rig.key+":lock", "someone-else", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(150*time.Millisecond, cancel)
		_, err := c.CreateRecord(ctx, "p", json.RawMessage(`{}`))
		wantDhgjErr(t, err, ClassTransient, "canceled")
		if c.TokenRequests() != 0 || rig.stats().Tokens != 0 {
			t.Fatal("a waiter asked for a token while another caller held the lock")
		}
	})
}

func TestDhgjDeadLockHolderIsTakenOver(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	// A holder that died: its lock expires on its own.
	if err := rig.rdb.Set(dhgjCtx(t), rig.key+":lock", "dead-process", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("took the token after %v, before the dead holder's lock expired", d)
	}
	if c.TokenRequests() != 1 || rig.stats().Tokens != 1 {
		t.Fatalf("token requests %d", c.TokenRequests())
	}
}

func TestDhgjUnreadableCacheEntryIsReplaced(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	c := rig.client(nil)
	if err := rig.rdb.Set(dhgjCtx(t), rig.key, "not a token record", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	raw, err := rig.rdb.Get(dhgjCtx(t), rig.key).Result()
	if err != nil || !strings.Contains(raw, `"access_token"`) || c.TokenRequests() != 1 {
		t.Fatalf("cache now %q (%v), token requests %d", raw, err, c.TokenRequests())
	}
}

func TestDhgjRedisDownIsTransient(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{})
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer down.Close()
	c := rig.client(func(cfg *DhgjcloudConfig) { cfg.Redis = down })
	_, err = c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{}`))
	wantDhgjErr(t, err, ClassTransient, "redis")
	if c.TokenRequests() != 0 {
		t.Fatal("asked for a token it could not share")
	}
}

// dhgjRunMany runs per goroutines on each client, each making one call, and
// returns every error (nil for success).
func dhgjRunMany(t *testing.T, clients []*Dhgjcloud, per int) []error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for ci, c := range clients {
		for g := range per {
			wg.Go(func() {
				_, err := c.CreateRecord(dhgjCtx(t), "api/rows", json.RawMessage(fmt.Sprintf(`{"p":%d,"g":%d}`, ci, g)))
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return errs
}

func dhgjTokenRequests(clients []*Dhgjcloud) (n int64) {
	for _, c := range clients {
		n += c.TokenRequests()
	}
	return n
}

// The headline: three "processes" × 50 goroutines against a cold token get
// exactly one token between them.
func TestDhgjThreeProcessesShareOneToken(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{Dhgjcloud: vendorsim.DhgjcloudConfig{Rate: 100000}})
	clients := []*Dhgjcloud{rig.client(nil), rig.client(nil), rig.client(nil)}
	for _, err := range dhgjRunMany(t, clients, 50) {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := rig.stats()
	if st.Tokens != 1 || dhgjTokenRequests(clients) != 1 {
		t.Fatalf("%d tokens issued (%d requested), want exactly 1", st.Tokens, dhgjTokenRequests(clients))
	}
	if st.Accepted != 150 || st.Duplicates != 0 || st.Codes["http_401"] != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// dhgjBarrier holds the first n business requests until all n are in
// flight, so that they all carry the token that was cached at that moment,
// then hands their answers back spread over ~300 ms, so that most 401s
// arrive after the refreshed token is already cached (a caller that deleted
// the cached token on any 401 would then delete the new one, again and again).
type dhgjBarrier struct {
	n       int64
	arrived *atomic.Int64
	all     chan struct{}
	next    http.RoundTripper
}

func (b dhgjBarrier) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/oauth/token" {
		if k := b.arrived.Add(1); k <= b.n {
			if k == b.n {
				close(b.all)
			}
			select {
			case <-b.all:
			case <-time.After(10 * time.Second):
				return nil, errors.New("barrier: not all requests arrived")
			}
			resp, err := b.next.RoundTrip(req)
			time.Sleep(time.Duration(k%10) * 30 * time.Millisecond)
			return resp, err
		}
	}
	return b.next.RoundTrip(req)
}

func TestDhgj401StormCausesOneRefresh(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{Dhgjcloud: vendorsim.DhgjcloudConfig{Rate: 100000}})
	if _, err := rig.client(nil).CreateRecord(dhgjCtx(t), "api/rows", json.RawMessage(`{"prime":1}`)); err != nil {
		t.Fatal(err)
	}
	rig.sim.ExpireDhgjToken() // the cached token is now stale for every caller

	barrier := dhgjBarrier{n: 150, arrived: new(atomic.Int64), all: make(chan struct{})}
	var clients []*Dhgjcloud
	for range 3 {
		clients = append(clients, rig.client(func(cfg *DhgjcloudConfig) {
			b := barrier
			b.next = NewHTTPClient(5 * time.Second).Transport
			cfg.HTTPClient = &http.Client{Transport: b, Timeout: 15 * time.Second}
		}))
	}
	for _, err := range dhgjRunMany(t, clients, 50) {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := rig.stats()
	if st.Codes["http_401"] != 150 {
		t.Fatalf("%d calls got 401, want all 150 (the storm)", st.Codes["http_401"])
	}
	if st.Tokens != 2 || dhgjTokenRequests(clients) != 1 {
		t.Fatalf("%d tokens in all (%d requested after the storm), want the first plus exactly one refresh", st.Tokens, dhgjTokenRequests(clients))
	}
	if st.Accepted != 151 {
		t.Fatalf("accepted %d, want 151", st.Accepted)
	}
}

// Tokens expire in Redis before the vendor's expiry: callers refresh when
// the key expires, once per expiry, without waiting for a 401.
func TestDhgjRefreshOnExpiryWithout401(t *testing.T) {
	rig := newDhgjRig(t, vendorsim.Config{Dhgjcloud: vendorsim.DhgjcloudConfig{Rate: 100000}})
	rig.sim.SetDhgjTokenTTL(time.Second)
	a, b := rig.client(nil), rig.client(nil)
	if _, err := a.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":1}`)); err != nil {
		t.Fatal(err)
	}
	pttl, err := rig.rdb.PTTL(dhgjCtx(t), rig.key).Result()
	if err != nil || pttl <= 0 || pttl > 900*time.Millisecond {
		t.Fatalf("PTTL %v (%v), want at most 90%% of the 1 s life", pttl, err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		n, err := rig.rdb.Exists(dhgjCtx(t), rig.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("token key never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.CreateRecord(dhgjCtx(t), "p", json.RawMessage(`{"i":2}`)); err != nil {
		t.Fatal(err)
	}
	if st := rig.stats(); st.Tokens != 2 || b.TokenRequests() != 1 || st.Codes["http_401"] != 0 {
		t.Fatalf("stats %+v: want a refresh by the second process on expiry, no 401", st)
	}

	// Keep three processes busy across several expiries.
	clients := []*Dhgjcloud{a, b, rig.client(nil)}
	before := rig.stats().Tokens
	start := time.Now()
	var wg sync.WaitGroup
	var fails atomic.Int64
	for _, c := range clients {
		for range 5 {
			wg.Go(func() {
				for i := 0; time.Since(start) < 2300*time.Millisecond; i++ {
					if _, err := c.CreateRecord(dhgjCtx(t), "p", json.RawMessage(fmt.Sprintf(`{"t":%d}`, i))); err != nil {
						fails.Add(1)
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := rig.stats()
	refreshes := st.Tokens - before
	if fails.Load() != 0 {
		t.Fatalf("%d calls failed", fails.Load())
	}
	// The cache keeps a token for 900 ms of its 1 s life: about one refresh
	// per 0.9 s, whatever the 401s below.
	if maxRefresh := int64(elapsed/(800*time.Millisecond)) + 2; refreshes < 2 || refreshes > maxRefresh {
		t.Fatalf("%d refreshes in %v, want between 2 and %d (one per expiry)", refreshes, elapsed, maxRefresh)
	}
	// A refresh invalidates the old token under the calls still in flight
	// with it (the vendor's rule): each of the 15 callers can get one 401
	// per refresh and is retried, but those 401s cause no refresh of their own.
	if n := st.Codes["http_401"]; n > 15*refreshes {
		t.Fatalf("%d 401s for %d refreshes: a 401 storm", n, refreshes)
	}
	t.Logf("%d refreshes in %v, %d calls accepted, %d in-flight 401s retried", refreshes, elapsed, st.Accepted, st.Codes["http_401"])
}

func dhgjCheckFuzzErr(t *testing.T, err error) {
	e := AsError(err)
	if e == nil {
		t.Fatalf("error %v is not a *Error", err)
	}
	if e.Class <= ClassOK || e.Class > ClassPermanent || e.Code == "" || e.Vendor != VendorDhgjcloud || e.Delay < 0 {
		t.Fatalf("bad error %#v", e)
	}
}

func FuzzDecodeDhgjcloud(f *testing.F) {
	f.Add(200, "", []byte(`{"code":200,"message":"success","data":{"id":"1"}}`))
	f.Add(200, "", []byte(`{"code":400,"message":"参数错误"}`))
	f.Add(401, "", []byte(`{"error":"invalid_token","error_description":"Invalid access token"}`))
	f.Add(429, "1", []byte(`{"code":429,"message":"接口请求频率超过限制"}`))
	f.Add(200, "", []byte(`{"oops":`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		res, err := decodeDhgjcloud(status, http.Header{"Retry-After": {retryAfter}}, body)
		if err != nil {
			dhgjCheckFuzzErr(t, err)
			if res != (RecordResult{}) {
				t.Fatalf("result %+v with error", res)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("HTTP %d decoded as success", status)
		}
	})
}

func FuzzDecodeDhgjToken(f *testing.F) {
	f.Add(200, []byte(dhgjDocTokenAnswer))
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"Bad client credentials"}`))
	f.Add(200, []byte(`{"access_token":"","expires_in":1}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ans, err := decodeDhgjToken(status, http.Header{}, body)
		if err != nil {
			dhgjCheckFuzzErr(t, err)
			return
		}
		if !dhgjVisible(ans.AccessToken) || !dhgjVisible(ans.TokenType) || ans.Life <= 0 || ans.Life > dhgjMaxLife {
			t.Fatalf("unusable token accepted: %+v", ans)
		}
		if auth := (dhgjToken{AccessToken: ans.AccessToken, TokenType: ans.TokenType}).authorization(); strings.Count(auth, " ") != 1 {
			t.Fatalf("Authorization %q is not two words", auth)
		}
	})
}

// A 2xx says success only with code 200 in its body.
func TestDhgj2xxMustSaySuccess(t *testing.T) {
	for _, body := range []string{``, `{}`, `null`, `[]`, `{"message":"success"}`, `{"data":{"id":"1"}}`} {
		for _, status := range []int{200, 201, 204} {
			_, err := decodeDhgjcloud(status, nil, []byte(body))
			if e := AsError(err); e == nil || e.Class != ClassTransient || e.Code != "malformed" {
				t.Errorf("HTTP %d %q: %v, want malformed", status, body, err)
			}
		}
	}
}
