package dashboards_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

// fixture is a dashboard on a fresh Redis database.
type fixture struct {
	conn   redisconn.Conn
	rdb    redis.UniversalClient
	store  *dlq.Store
	client *asynq.Client
	reg    *prometheus.Registry
	opts   dashboards.Options
	srv    *dashboards.Server
	http   *httptest.Server
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newFixture serves a dashboard over loopback; edit adjusts the options.
func newFixture(t *testing.T, edit func(*dashboards.Options)) *fixture {
	t.Helper()
	conn, err := redisconn.Parse(srv.URL(srv.FreshDB(t)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{conn: conn, rdb: conn.NewClient(), reg: prometheus.NewRegistry()}
	t.Cleanup(func() { _ = f.rdb.Close() })
	f.store = dlq.New(f.rdb)
	f.client = asynq.NewClient(conn.Asynq)
	t.Cleanup(func() { _ = f.client.Close() })
	o := dashboards.Options{
		RedisConnOpt: conn.Asynq, DeadLetters: dashdeps.DeadLetters(f.store, f.client), Endpoints: []string{"forms", "sms"},
		Gatherer: f.reg,
		Health:   dashboards.Health{Ping: func(ctx context.Context) error { return f.rdb.Ping(ctx).Err() }, Running: func() bool { return true }},
	}
	if edit != nil {
		edit(&o)
	}
	f.serve(t, o)
	return f
}

// serve starts a dashboard with o.
func (f *fixture) serve(t *testing.T, o dashboards.Options) {
	t.Helper()
	s, err := dashboards.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	f.opts, f.srv = o, s
	f.http = httptest.NewServer(s)
	t.Cleanup(f.http.Close)
}

// twin is another dashboard process on the same Redis (as behind a load
// balancer); edit adjusts its options.
func (f *fixture) twin(t *testing.T, edit func(*dashboards.Options)) *fixture {
	t.Helper()
	g := *f
	o := f.opts
	if edit != nil {
		edit(&o)
	}
	g.serve(t, o)
	return &g
}

// serveFrom runs req through the dashboard in-process as if it came from
// the client address from (IP:PORT), to a loopback Host; it returns the
// answer.
func (f *fixture) serveFrom(req *http.Request, from string) *httptest.ResponseRecorder {
	req.RemoteAddr = from
	if req.Host == "" || req.Host == "example.com" {
		req.Host = "127.0.0.1:8080"
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

// do sends a request and returns status and body.
func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	c := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func (f *fixture) postForm(t *testing.T, path string, form map[string]string, header http.Header) (int, string) {
	t.Helper()
	vals := make([]string, 0, len(form))
	for k, v := range form {
		vals = append(vals, k+"="+v)
	}
	req, err := http.NewRequest(http.MethodPost, f.http.URL+path, strings.NewReader(strings.Join(vals, "&")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]{40,})"`)

// csrf reads the form token from the dead-letter page.
func (f *fixture) csrf(t *testing.T) string {
	t.Helper()
	code, body := f.get(t, "/dlq")
	m := csrfRe.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /dlq: %d, no csrf token in page:\n%s", code, body)
	}
	return m[1]
}

// xsrf is the XSRF-TOKEN cookie a GET of asynqmon's UI sets.
func (f *fixture) xsrf(t *testing.T) *http.Cookie {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(f.http.URL + "/monitoring/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "XSRF-TOKEN" {
			return c
		}
	}
	t.Fatalf("GET /monitoring/: no XSRF-TOKEN cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

// insp is an asynq Inspector on the fixture's Redis.
func insp(t *testing.T, f *fixture) *asynq.Inspector {
	t.Helper()
	i := asynq.NewInspector(f.conn.Asynq)
	t.Cleanup(func() { _ = i.Close() })
	return i
}

// request builds a request to the fixture with a body and headers.
func (f *fixture) request(t *testing.T, method, path, body string, header http.Header) *http.Request {
	t.Helper()
	req := mustRequest(t, method, f.http.URL+path, body)
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	return req
}
