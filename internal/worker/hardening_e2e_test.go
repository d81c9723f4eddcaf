package worker_test

// End-to-end evidence for issue 9's client-side findings (3–5), through a
// real worker on a throwaway redis-server: a 307 to another port sends
// nothing there and the task is not done; echoed secrets appear in no log
// line, dead letter, dashboard page, metric or Redis key; a 2xx that does
// not say success is retried, never done.
//
// Time bounds. A transient failure goes back to asynq with the handler's
// back-off (handlers/decide.go: 1s, 2s, 4s … ±50%) and asynq's forwarder
// moves due retries every DelayedTaskCheckInterval (1s, internal/worker),
// so retry n+1 starts at most 1.5·2ⁿ s + 1 s after failure n:
//   - max_retry 1 (two calls): at most 2.5 s;
//   - max_retry 3 with three failures (four calls): at most
//     1.5+3+6 s of back-off + 3 s of forwarding = 13.5 s (typically ~8 s).
// The deadlines below are two to three times those bounds.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
	"github.com/vendorq/vendorq/tasks"
)

// hardEnv is one real worker on a fresh database, logging JSON at debug
// level into log, with its metrics in reg.
type hardEnv struct {
	conn redisconn.Conn
	rdb  redis.UniversalClient
	prod *producer.Producer
	in   *asynq.Inspector
	w    *worker.Worker
	log  *itest.Buffer
	reg  *prometheus.Registry
}

// startHardened parses endpoints (the YAML under "endpoints:", indented by
// two spaces) against a fresh database and starts a worker on it.
func startHardened(t *testing.T, endpoints string) *hardEnv {
	t.Helper()
	rurl := srv.URL(srv.FreshDB(t))
	cfg, err := config.Parse([]byte("redis:\n  url: "+rurl+"\nendpoints:\n"+endpoints), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Redis.URL = rurl
	conn, err := redisconn.Parse(rurl)
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })
	e := &hardEnv{conn: conn, rdb: rdb, in: in, log: &itest.Buffer{}, reg: prometheus.NewRegistry(),
		prod: producer.New(cfg, asynq.NewClientFromRedisClient(rdb), rdb)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e.log.String())
		}
	})
	w := workertest.Start(t, cfg, conn, worker.Options{
		Log:          zerolog.New(e.log).Level(zerolog.DebugLevel).With().Timestamp().Logger(),
		Registerer:   e.reg,
		PollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		ThrottleInitial: 5 * time.Millisecond, ThrottleMax: 50 * time.Millisecond,
	})
	e.w = w
	return e
}

func (e *hardEnv) record(t *testing.T, ep, table, key string) string {
	t.Helper()
	res, err := e.prod.Record(context.Background(), tasks.RecordCreate{Endpoint: ep, Table: table, Data: json.RawMessage(`{"name":"n1"}`), Key: key})
	if err != nil || res.Duplicate || res.TaskID == "" {
		t.Fatalf("enqueue %s: %+v %v", key, res, err)
	}
	return res.TaskID
}

func (e *hardEnv) marked(t *testing.T, ep, id string) bool {
	t.Helper()
	n, err := e.rdb.Exists(context.Background(), keys.Dedupe(ep, id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// awaitRetry waits until task id sits in asynq's retry set (its first run
// failed and was handed back for a retry), and returns its info. It stops at
// once if the task was finished instead: a dedupe marker (done, or
// dead-lettered: a keyed dead letter gets one too, handlers/effects.go
// deadLetter), or no task at all.
func (e *hardEnv) awaitRetry(t *testing.T, ep, id string, timeout time.Duration) *asynq.TaskInfo {
	t.Helper()
	var info *asynq.TaskInfo
	itest.Eventually(t, timeout, func() (bool, string) {
		if e.marked(t, ep, id) {
			entry, err := e.w.DLQ.Get(context.Background(), ep, id)
			t.Fatalf("task %s finished (dedupe marker) before any retry; dead letter: %+v %v", id, entry, err)
		}
		ti, err := e.in.GetTaskInfo(ep, id)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			t.Fatalf("task %s is gone from asynq before any retry", id)
		}
		if err != nil {
			return false, err.Error()
		}
		info = ti
		return ti.State == asynq.TaskStateRetry, "task state " + ti.State.String()
	})
	return info
}

func (e *hardEnv) awaitDeadLetter(t *testing.T, ep, id string, timeout time.Duration) dlq.Entry {
	t.Helper()
	var entry dlq.Entry
	itest.Eventually(t, timeout, func() (bool, string) {
		var err error
		entry, err = e.w.DLQ.Get(context.Background(), ep, id)
		return err == nil, fmt.Sprintf("no dead letter %s/%s: %v", ep, id, err)
	})
	return entry
}

// logLines decodes the captured JSON log.
func (e *hardEnv) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// linesFor returns the log lines of task id with the given message.
func (e *hardEnv) linesFor(t *testing.T, id, msg string) []map[string]any {
	var out []map[string]any
	for _, m := range e.logLines(t) {
		if m["task_id"] == id && m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// dashboardGet serves the real dashboard (wired as workercli's
// startDashboard does) over loopback and GETs path from it.
func (e *hardEnv) dashboardGet(t *testing.T, path string) string {
	t.Helper()
	ds, err := dashboards.New(dashboards.Options{
		RedisConnOpt: e.conn.Asynq, DeadLetters: dashdeps.DeadLetters(e.w.DLQ, asynq.NewClientFromRedisClient(e.rdb)),
		Endpoints: e.w.Endpoints(), Gatherer: e.reg,
		Health: dashboards.Health{Ping: e.w.Ping, Running: func() bool { return true }},
		Log:    zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	hs := httptest.NewServer(ds) // http://127.0.0.1:port: a loopback Host
	defer hs.Close()
	resp, err := hs.Client().Get(hs.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, b)
	}
	return string(b)
}

// redisDump is every key of the database and its value(s), but the keys in skip.
func (e *hardEnv) redisDump(t *testing.T, skip ...string) string {
	t.Helper()
	ctx := context.Background()
	var all []string
	iter := e.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(all)
	var b strings.Builder
	for _, k := range all {
		if slices.Contains(skip, k) {
			continue
		}
		typ, err := e.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = e.rdb.Get(ctx, k).Result()
		case "hash":
			v, err = e.rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = e.rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = e.rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = e.rdb.ZRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = e.rdb.XRange(ctx, k, "-", "+").Result()
		case "none": // expired between SCAN and TYPE
			continue
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s = %v\n", k, v)
	}
	return b.String()
}

// leak is a secret and the forms an echo could carry it in. core is a run
// of letters inside it that every form (raw, percent-encoded, JSON- or
// HTML-escaped, cut short at a message bound) keeps verbatim.
type leak struct{ secret, core string }

func (l leak) needles() []string {
	return []string{l.secret, url.QueryEscape(l.secret), url.PathEscape(l.secret), l.core}
}

// assertNoLeak fails if text, as is or HTML-unescaped, shows any form of l.
func assertNoLeak(t *testing.T, where, text string, l leak) {
	t.Helper()
	if !strings.Contains(l.secret, l.core) {
		t.Fatalf("bad leak %+v", l)
	}
	for _, hay := range []string{text, html.UnescapeString(text)} {
		for _, n := range l.needles() {
			if i := strings.Index(hay, n); i >= 0 {
				t.Errorf("%s shows the secret (%q) at %d: …%s…", where, n, i, hay[max(0, i-120):min(len(hay), i+len(n)+40)])
				return
			}
		}
	}
}

// callLog counts a fake's requests and keeps their Authorization headers.
type callLog struct {
	mu    sync.Mutex
	paths []string
	auth  []string
}

func (c *callLog) note(r *http.Request) int {
	_, _ = io.Copy(io.Discard, r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, r.URL.Path)
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	return len(c.paths)
}

func (c *callLog) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.paths)
}

func (c *callLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d calls %v (Authorization %q)", len(c.paths), c.paths, c.auth)
}

// Finding 3: a baibaoyun answering 307 to another port. The worker sends
// nothing there (so no Authorization header either), the task is not done
// (retried, never marked, never "record created"), and after its retries it
// is a dead letter with code redirect whose error names the target host and
// not the api key.
func TestHardenedRedirectIsNotFollowedThroughWorker(t *testing.T) {
	t.Parallel()
	const apiKey = "bby-REDIRECTKEY-7c1e"
	var target callLog
	// Were the redirect followed, this success would make the task "done".
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target.note(r)
		_, _ = io.WriteString(w, `{"code":0,"data":{"_id":"stolen-1"}}`)
	}))
	t.Cleanup(ts.Close)
	tu, _ := url.Parse(ts.URL)
	var vendor callLog
	vs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vendor.note(r)
		w.Header().Set("Location", ts.URL+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(vs.Close)
	if vu, _ := url.Parse(vs.URL); vu.Hostname() != tu.Hostname() || vu.Port() == tu.Port() {
		t.Fatalf("want the same host on another port: %s vs %s", vs.URL, ts.URL)
	}

	e := startHardened(t, fmt.Sprintf("  forms:\n    vendor: baibaoyun\n    api_key: %s\n    base_url: %s\n    rate: 100\n    max_retry: 1\n", apiKey, vs.URL))
	id := e.record(t, "forms", "app1/entry1", "redirect-1")

	// After the first 307: handed back for a retry, not done.
	info := e.awaitRetry(t, "forms", id, 15*time.Second)
	if target.n() != 0 {
		t.Fatalf("the redirect target was called: %s", &target)
	}
	if !strings.Contains(info.LastErr, "redirect") || !strings.Contains(info.LastErr, tu.Host) || strings.Contains(info.LastErr, apiKey) {
		t.Errorf("asynq's last error %q: want the redirect, naming %s, without the key", info.LastErr, tu.Host)
	}

	// After its one retry: a dead letter, code redirect.
	entry := e.awaitDeadLetter(t, "forms", id, 15*time.Second)
	if entry.Code != "redirect" || entry.Class != "transient" || entry.Attempts != 2 {
		t.Errorf("dead letter %+v: want code redirect, class transient, 2 attempts", entry)
	}
	if !strings.Contains(entry.Error, "Location is on host "+tu.Host) || !strings.Contains(entry.Error, "not followed") {
		t.Errorf("dead-letter error %q does not name the target host %s", entry.Error, tu.Host)
	}
	assertNoLeak(t, "dead letter", fmt.Sprintf("%+v %s", entry, entry.Payload), leak{apiKey, "REDIRECTKEY"})
	// (Now the key has a dedupe marker: every keyed dead letter gets one,
	// so that it is not enqueued again until replayed. "Not done" is what
	// awaitRetry saw: no marker while the task waited for its retry.)
	itest.Eventually(t, 10*time.Second, func() (bool, string) { return itest.Drained(e.in, "forms") })

	if target.n() != 0 {
		t.Fatalf("the redirect target was called: %s", &target)
	}
	// Not vacuous: the vendor itself got both calls, with the key.
	if vendor.n() != 2 {
		t.Errorf("vendor: %s, want 2 calls", &vendor)
	}
	for _, a := range vendor.auth {
		if a != "Bearer "+apiKey {
			t.Errorf("vendor got Authorization %q", a)
		}
	}
	if got := e.linesFor(t, id, "record created"); len(got) != 0 {
		t.Errorf("the task was logged as done: %v", got)
	}
	if got := e.linesFor(t, id, "transient failure; will retry"); len(got) != 1 || got[0]["code"] != "redirect" {
		t.Errorf("want one logged redirect retry, got %v", got)
	}
	assertNoLeak(t, "worker log", e.log.String(), leak{apiKey, "REDIRECTKEY"})
}

// Finding 4: dhgjcloud answers that echo the client secret (token endpoint,
// HTTP 400) or the live bearer token (business call, code 500) leave it in
// no log line, dead-letter entry, /dlq page, metric or Redis key; the dead
// letter exists and says [redacted] where the secret was.
func TestHardenedEchoedSecretsAppearNowhere(t *testing.T) {
	t.Parallel()
	const clientID = "cid-echo-1"

	t.Run("token endpoint echoes the client secret", func(t *testing.T) {
		t.Parallel()
		secret := leak{"cs/Qz+7=CLIENTSECRETx9", "CLIENTSECRET"}
		var tokenCalls, business callLog
		vs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/oauth/token" {
				business.note(r)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			body, _ := io.ReadAll(r.Body)
			tokenCalls.note(r)
			form, _ := url.ParseQuery(string(body))
			// The raw secret, and the request body as received (percent-encoded).
			msg := fmt.Sprintf("bad client: client_secret=%s does not match; request was %s", form.Get("client_secret"), body)
			if !strings.Contains(msg, secret.secret) || !strings.Contains(msg, url.QueryEscape(secret.secret)) {
				msg = "fake vendor: expected the client secret in the form body: " + msg
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "message": msg})
		}))
		t.Cleanup(vs.Close)
		e := startHardened(t, fmt.Sprintf("  gjy:\n    vendor: dhgjcloud\n    client_id: %s\n    client_secret: %q\n    base_url: %s\n    rate: 100\n    max_retry: 1\n", clientID, secret.secret, vs.URL))
		id := e.record(t, "gjy", "/api/records", "echo-secret-1")

		entry := e.awaitDeadLetter(t, "gjy", id, 15*time.Second)
		if entry.Code != "token_http_400" || entry.Class != "permanent" {
			t.Errorf("dead letter %+v: want permanent token_http_400", entry)
		}
		if !strings.Contains(entry.Error, "[redacted]") || !strings.Contains(entry.Error, "does not match") {
			t.Errorf("dead-letter error %q: want the vendor's message with the secret [redacted]", entry.Error)
		}
		if tokenCalls.n() != 1 || business.n() != 0 {
			t.Errorf("token endpoint %s, business %s: want one token call and no business call", &tokenCalls, &business)
		}
		itest.Eventually(t, 10*time.Second, func() (bool, string) { return itest.Drained(e.in, "gjy") })
		assertEchoNowhere(t, e, "gjy", id, entry, secret)
	})

	t.Run("business error echoes the bearer token", func(t *testing.T) {
		t.Parallel()
		const secret = "cs-business-1" // configured, not echoed
		token := leak{"tok-LIVETOKEN-3f9a.b_c", "LIVETOKEN"}
		var tokenCalls, business callLog
		vs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/oauth/token" {
				tokenCalls.note(r)
				_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token.secret, "token_type": "bearer", "expires_in": 3600})
				return
			}
			auth := r.Header.Get("Authorization")
			business.note(r)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 500, "message": "backend rejected the call with Authorization: " + auth})
		}))
		t.Cleanup(vs.Close)
		e := startHardened(t, fmt.Sprintf("  gjy:\n    vendor: dhgjcloud\n    client_id: %s\n    client_secret: %s\n    base_url: %s\n    rate: 100\n    max_retry: 1\n", clientID, secret, vs.URL))
		id := e.record(t, "gjy", "/api/records", "echo-token-1")

		// Between the two calls, asynq holds the task with its last error.
		info := e.awaitRetry(t, "gjy", id, 15*time.Second)
		assertNoLeak(t, "asynq's last error", info.LastErr, token)
		assertNoLeak(t, "Redis during the retry", e.redisDump(t, keys.DhgjToken("gjy")), token)

		entry := e.awaitDeadLetter(t, "gjy", id, 15*time.Second)
		if entry.Code != "500" || entry.Class != "transient" || entry.Attempts != 2 {
			t.Errorf("dead letter %+v: want transient 500 after 2 attempts", entry)
		}
		if !strings.Contains(entry.Error, "bearer [redacted]") {
			t.Errorf("dead-letter error %q: want the echoed header as bearer [redacted]", entry.Error)
		}
		// Not vacuous: both business calls carried the live token.
		if tokenCalls.n() != 1 || business.n() != 2 {
			t.Errorf("token endpoint %s, business %s: want 1 and 2 calls", &tokenCalls, &business)
		}
		for _, a := range business.auth {
			if a != "bearer "+token.secret {
				t.Errorf("business call carried Authorization %q", a)
			}
		}
		itest.Eventually(t, 10*time.Second, func() (bool, string) { return itest.Drained(e.in, "gjy") })
		if n := len(e.linesFor(t, id, "transient failure; will retry")); n != 1 {
			t.Errorf("%d retry lines logged, want 1", n)
		}
		assertEchoNowhere(t, e, "gjy", id, entry, token, keys.DhgjToken("gjy"))
	})
}

// assertEchoNowhere checks the log, the dead letter, the dashboard's /dlq
// page (all endpoints and this one), /metrics and every Redis key but
// skip for l, after checking that the log and page do show the task.
func assertEchoNowhere(t *testing.T, e *hardEnv, ep, id string, entry dlq.Entry, l leak, skip ...string) {
	t.Helper()
	if got := e.linesFor(t, id, "dead-lettered"); len(got) != 1 {
		t.Errorf("want one dead-lettered log line for %s, got %v", id, got)
	}
	assertNoLeak(t, "worker log", e.log.String(), l)
	raw, _ := json.Marshal(entry)
	assertNoLeak(t, "dead letter", fmt.Sprintf("%+v\n%s\n%s", entry, entry.Payload, raw), l)
	for _, path := range []string{"/dlq", "/dlq?endpoint=" + ep} {
		page := e.dashboardGet(t, path)
		if !strings.Contains(page, id) || !strings.Contains(page, "[redacted]") {
			t.Errorf("%s does not show the dead letter %s with [redacted]:\n%s", path, id, page)
		}
		assertNoLeak(t, path, page, l)
	}
	metricsText := e.dashboardGet(t, "/metrics")
	if !strings.Contains(metricsText, "vendorq_") {
		t.Errorf("/metrics shows no vendorq metric:\n%s", metricsText)
	}
	assertNoLeak(t, "/metrics", metricsText, l)
	assertNoLeak(t, "Redis", e.redisDump(t, skip...), l)
}

// Finding 5: 2xx answers that do not say success (empty, {}, code 500) are
// malformed and retried, never done: with max_retry 3 the fourth call's
// proper success is what finishes the task (record id abc); with max_retry
// 1 and only empty answers the task is dead-lettered as malformed.
func TestHardenedSilentTwoHundredIsRetriedNotDone(t *testing.T) {
	t.Parallel()
	const apiKey = "bby-SILENT-key-1"
	answers := []string{"", "{}", `{"code":500}`}
	const success = `{"code":0,"data":{"_id":"abc"}}`
	var seq callLog
	seqSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := seq.note(r)
		w.Header().Set("Content-Type", "application/json")
		if n <= len(answers) {
			_, _ = io.WriteString(w, answers[n-1])
			return
		}
		_, _ = io.WriteString(w, success)
	}))
	t.Cleanup(seqSrv.Close)
	var empty callLog
	emptySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		empty.note(r)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(emptySrv.Close)
	// One worker, two endpoints, so that both cases run at once.
	e := startHardened(t, fmt.Sprintf(
		"  seq:\n    vendor: baibaoyun\n    api_key: %s\n    base_url: %s\n    rate: 100\n    max_retry: 3\n"+
			"  empty:\n    vendor: baibaoyun\n    api_key: %s\n    base_url: %s\n    rate: 100\n    max_retry: 1\n",
		apiKey, seqSrv.URL, apiKey, emptySrv.URL))
	seqID := e.record(t, "seq", "app1/entry1", "silent-seq-1")
	emptyID := e.record(t, "empty", "app1/entry1", "silent-empty-1")

	// Subtests (not parallel: one worker runs both tasks at once already),
	// so that a failure of one still lets the other report.
	t.Run("only empty answers with max_retry 1 are dead-lettered as malformed", func(t *testing.T) {
		e.awaitRetry(t, "empty", emptyID, 15*time.Second)
		if e.marked(t, "empty", emptyID) {
			t.Fatal("empty 200: task marked done")
		}
		entry := e.awaitDeadLetter(t, "empty", emptyID, 15*time.Second)
		if entry.Code != "malformed" || entry.Class != "transient" || entry.Attempts != 2 || !strings.Contains(entry.Error, "empty answer") {
			t.Errorf("dead letter %+v: want transient malformed (empty answer) after 2 attempts", entry)
		}
		if empty.n() != 2 {
			t.Errorf("empty fake: %s, want 2 calls", &empty)
		}
		if got := e.linesFor(t, emptyID, "record created"); len(got) != 0 {
			t.Errorf("empty answers logged as done: %v", got)
		}
	})

	t.Run("empty, {} and code 500 are retried until the real success", func(t *testing.T) {
		itest.Eventually(t, 40*time.Second, func() (bool, string) {
			return e.marked(t, "seq", seqID), fmt.Sprintf("seq task not done; fake %s", &seq)
		})
		itest.Eventually(t, 10*time.Second, func() (bool, string) { return itest.Drained(e.in, "seq") })
		if seq.n() != 4 {
			t.Errorf("seq fake: %s, want 4 calls", &seq)
		}
		done := e.linesFor(t, seqID, "record created")
		if len(done) != 1 || done[0]["record_id"] != "abc" {
			t.Errorf("want one 'record created' with record_id abc, got %v", done)
		}
		retries := e.linesFor(t, seqID, "transient failure; will retry")
		if len(retries) != 3 {
			t.Errorf("want 3 logged retries, got %v", retries)
		}
		for _, l := range retries {
			if l["code"] != "malformed" {
				t.Errorf("retry line with code %v, want malformed: %v", l["code"], l)
			}
		}
		if _, err := e.w.DLQ.Get(context.Background(), "seq", seqID); !errors.Is(err, dlq.ErrNotFound) {
			t.Errorf("seq task dead-lettered? %v", err)
		}
	})
}
