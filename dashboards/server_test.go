package dashboards_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/tasks"
)

func TestHealthz(t *testing.T) {
	running := true
	pingErr := error(nil)
	f := newFixture(t, func(o *dashboards.Options) {
		ping := o.Health.Ping
		o.Health = dashboards.Health{
			Ping: func(ctx context.Context) error {
				if pingErr != nil {
					return pingErr
				}
				return ping(ctx)
			},
			Running: func() bool { return running },
		}
	})
	check := func(wantCode int, want map[string]string) {
		t.Helper()
		code, body := f.get(t, "/healthz")
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("/healthz body %q: %v", body, err)
		}
		if code != wantCode || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("/healthz = %d %v, want %d %v", code, got, wantCode, want)
		}
	}
	check(http.StatusOK, map[string]string{"redis": "ok", "servers": "running"})
	running = false
	check(http.StatusServiceUnavailable, map[string]string{"redis": "ok", "servers": "stopped"})
	running, pingErr = true, errors.New("dial tcp 10.0.0.1:6379: connection refused")
	check(http.StatusServiceUnavailable, map[string]string{"redis": "unreachable", "servers": "running"})
}

func TestHealthzWithRedisDown(t *testing.T) {
	// A real client to a port where nothing listens.
	dead := deadRedis(t)
	f := newFixture(t, func(o *dashboards.Options) {
		o.Health.Ping = func(ctx context.Context) error { return dead.Ping(ctx).Err() }
	})
	code, body := f.get(t, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"redis":"unreachable"`) {
		t.Fatalf("/healthz with Redis down: %d %s", code, body)
	}
}

// addDead stores n dead letters on ep, newest last, each with a phone in
// payload and error.
func addDead(t *testing.T, store *dlq.Store, ep string, n int) []dlq.Entry {
	t.Helper()
	var out []dlq.Entry
	base := time.Now().Add(-time.Hour)
	for i := range n {
		phone := fmt.Sprintf("1381234%04d", i)
		payload, _ := json.Marshal(tasks.SMSSend{Endpoint: ep, Phones: []string{phone}, Content: "hello", Sign: "【X】"})
		e := dlq.Entry{
			ID: fmt.Sprintf("%s-dead-%d", ep, i), Type: tasks.TypeSMSSend, Endpoint: ep,
			Error: "caihcom: permanent code=9001: 号码无效 " + phone, Class: "permanent", Code: "9001",
			Attempts: 1, FirstAttempt: base, LastAttempt: base.Add(time.Duration(i) * time.Minute), Payload: payload,
		}
		if err := store.Add(ctxT(t), e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestDLQViewShowsCountsNewestAndMasks(t *testing.T) {
	f := newFixture(t, nil)
	addDead(t, f.store, "sms", 3)
	addDead(t, f.store, "forms", 1)
	code, body := f.get(t, "/dlq")
	if code != http.StatusOK {
		t.Fatalf("GET /dlq: %d %s", code, body)
	}
	for _, want := range []string{
		`data-endpoint="sms">3<`, `data-endpoint="forms">1<`, ">4<", // counts and total
		"sms-dead-2", "forms-dead-0", "9001", "号码无效", "permanent", // entries, reason, code
		"138****0002", // masked phone
		`action="/dlq/replay"`, `action="/dlq/purge"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/dlq lacks %q", want)
		}
	}
	if strings.Contains(body, "13812340002") {
		t.Error("/dlq shows an unmasked phone number")
	}
	// Newest first: sms-dead-2 (last_attempt +2m) before sms-dead-0.
	if strings.Index(body, "sms-dead-2") > strings.Index(body, "sms-dead-0") {
		t.Error("/dlq does not list the newest entry first")
	}
	// Filter by endpoint.
	_, body = f.get(t, "/dlq?endpoint=forms")
	if !strings.Contains(body, "forms-dead-0") || strings.Contains(body, "sms-dead-1") {
		t.Error("/dlq?endpoint=forms does not show just forms")
	}
	if code, _ := f.get(t, "/dlq?endpoint=nope"); code != http.StatusNotFound {
		t.Errorf("/dlq?endpoint=nope: %d, want 404", code)
	}
}

func TestDLQReplayAndPurgeMoveEntries(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	addDead(t, f.store, "sms", 3)
	token := f.csrf(t)

	// Replay one: it leaves the DLQ and is back on its queue under its id.
	code, body := f.postForm(t, "/dlq/replay", map[string]string{"csrf": token, "endpoint": "sms", "id": "sms-dead-1"}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("replay one: %d %s", code, body)
	}
	if n, _ := f.store.Count(ctx, "sms"); n != 2 {
		t.Fatalf("after replaying one: %d dead letters, want 2", n)
	}
	insp := asynq.NewInspector(f.conn.Asynq)
	defer insp.Close()
	info, err := insp.GetTaskInfo("sms", "sms-dead-1")
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("replayed task: %v, %v; want it pending on queue sms", info, err)
	}
	// Replaying it again: gone.
	if code, _ := f.postForm(t, "/dlq/replay", map[string]string{"csrf": token, "endpoint": "sms", "id": "sms-dead-1"}, nil); code != http.StatusNotFound {
		t.Errorf("replaying a replayed entry: %d, want 404", code)
	}

	// Replay all of the endpoint.
	if code, body := f.postForm(t, "/dlq/replay", map[string]string{"csrf": token, "endpoint": "sms"}, nil); code != http.StatusSeeOther {
		t.Fatalf("replay all: %d %s", code, body)
	}
	if n, _ := f.store.Count(ctx, "sms"); n != 0 {
		t.Fatalf("after replay all: %d dead letters, want 0", n)
	}
	qi, err := insp.GetQueueInfo("sms")
	if err != nil || qi.Pending != 3 {
		t.Fatalf("queue sms after replays: %+v, %v; want 3 pending", qi, err)
	}

	// Purge needs the confirmation box, then empties the endpoint.
	addDead(t, f.store, "forms", 2)
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "endpoint": "forms"}, nil); code != http.StatusBadRequest {
		t.Errorf("purge without confirm: %d, want 400", code)
	}
	if n, _ := f.store.Count(ctx, "forms"); n != 2 {
		t.Fatalf("an unconfirmed purge removed entries: %d left", n)
	}
	code, _ = f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "endpoint": "forms", "confirm": "yes"}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("purge: %d", code)
	}
	if n, _ := f.store.Count(ctx, "forms"); n != 0 {
		t.Fatalf("after purge: %d dead letters, want 0", n)
	}
	if _, body := f.get(t, "/dlq?endpoint=forms&purged=2"); !strings.Contains(body, "Purged 2") {
		t.Error("the page after a purge does not say how many were purged")
	}
}

func TestDLQActionsRefuseCrossSiteAndMissingToken(t *testing.T) {
	f := newFixture(t, nil)
	addDead(t, f.store, "sms", 1)
	token := f.csrf(t)
	cases := []struct {
		name   string
		form   map[string]string
		header http.Header
	}{
		{"no token", map[string]string{"endpoint": "sms", "confirm": "yes"}, nil},
		{"wrong token", map[string]string{"csrf": strings.Repeat("0", 64), "endpoint": "sms", "confirm": "yes"}, nil},
		{"other origin", map[string]string{"csrf": token, "endpoint": "sms", "confirm": "yes"}, http.Header{"Origin": {"https://evil.example"}}},
		{"cross-site fetch", map[string]string{"csrf": token, "endpoint": "sms", "confirm": "yes"}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	}
	for _, c := range cases {
		for _, path := range []string{"/dlq/purge", "/dlq/replay"} {
			if code, _ := f.postForm(t, path, c.form, c.header); code != http.StatusForbidden {
				t.Errorf("POST %s with %s: %d, want 403", path, c.name, code)
			}
		}
	}
	if n, _ := f.store.Count(ctxT(t), "sms"); n != 1 {
		t.Fatalf("a refused action changed the DLQ: %d entries, want 1", n)
	}
	// Same origin with the token works.
	code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "endpoint": "sms", "confirm": "yes"}, http.Header{"Origin": {f.http.URL}})
	if code != http.StatusSeeOther {
		t.Errorf("same-origin purge: %d, want 303", code)
	}
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "endpoint": "no-such", "confirm": "yes"}, nil); code != http.StatusBadRequest {
		t.Errorf("purge of an unknown endpoint: %d, want 400", code)
	}
}

func TestReadOnlyRefusesChanges(t *testing.T) {
	// The store keeps its enqueuer: the read-only switch alone must refuse.
	f := newFixture(t, func(o *dashboards.Options) { o.ReadOnly = true })
	ctx := ctxT(t)
	addDead(t, f.store, "sms", 2)
	_, body := f.get(t, "/dlq")
	if strings.Contains(body, `action="/dlq/replay"`) || strings.Contains(body, `action="/dlq/purge"`) || !strings.Contains(body, "read-only") {
		t.Error("read-only /dlq still offers replay/purge or does not say it is read-only")
	}
	if !strings.Contains(body, "sms-dead-1") {
		t.Error("read-only /dlq does not list the entries")
	}
	// Even with a valid form (the token of asynqmon's cookie), both actions are refused.
	token := f.xsrf(t).Value
	for _, path := range []string{"/dlq/replay", "/dlq/purge"} {
		code, _ := f.postForm(t, path, map[string]string{"csrf": token, "endpoint": "sms", "id": "sms-dead-0", "confirm": "yes"}, nil)
		if code != http.StatusForbidden {
			t.Errorf("read-only POST %s: %d, want 403", path, code)
		}
	}
	if n, _ := f.store.Count(ctx, "sms"); n != 2 {
		t.Fatalf("read-only dashboard changed the DLQ: %d entries, want 2", n)
	}
	// asynqmon refuses its own changes.
	if _, err := f.client.EnqueueContext(ctx, asynq.NewTask(tasks.TypeSMSSend, []byte(`{}`)), asynq.Queue("sms")); err != nil {
		t.Fatal(err)
	}
	// With a valid token, so that the refusal is asynqmon's read-only mode.
	req, _ := http.NewRequest(http.MethodDelete, f.http.URL+"/monitoring/api/queues/sms/pending_tasks:delete_all", nil)
	req.Header.Set("X-XSRF-TOKEN", f.xsrf(t).Value)
	if code, _ := do(t, req); code != http.StatusMethodNotAllowed {
		t.Errorf("read-only asynqmon DELETE: %d, want 405", code)
	}
	if qi, err := insp(t, f).GetQueueInfo("sms"); err != nil || qi.Pending != 1 {
		t.Errorf("read-only asynqmon DELETE removed tasks: %+v, %v", qi, err)
	}
}

func TestAsynqmonServedWithPhonesMasked(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	task, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{"13812345678", "13987654321"}, Content: "hi", Sign: "【X】", Key: "k-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.EnqueueContext(ctx, task); err != nil {
		t.Fatal(err)
	}
	code, body := f.get(t, "/monitoring/")
	if code != http.StatusOK || !strings.Contains(body, "/monitoring/static/") {
		t.Fatalf("GET /monitoring/: %d, not asynqmon's UI: %.300s", code, body)
	}
	for _, path := range []string{"/monitoring/api/queues/sms/pending_tasks", "/monitoring/api/queues/sms/tasks/k-1"} {
		code, body = f.get(t, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if strings.Contains(body, "13812345678") || strings.Contains(body, "13987654321") {
			t.Errorf("GET %s shows an unmasked phone: %s", path, body)
		}
		if !strings.Contains(body, "138****5678") {
			t.Errorf("GET %s: masked phone missing: %s", path, body)
		}
	}
	code, body = f.get(t, "/monitoring/api/queues")
	if code != http.StatusOK || !strings.Contains(body, `"queue":"sms"`) {
		t.Errorf("GET /monitoring/api/queues: %d %s", code, body)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := dashboards.New(dashboards.Options{RedisConnOpt: f.conn.Asynq, Gatherer: f.reg}); err == nil {
		t.Error("New without DeadLetters: want an error")
	}
	if _, err := dashboards.New(dashboards.Options{DeadLetters: dashdeps.DeadLetters(f.store, nil), Gatherer: f.reg, ReadOnly: true}); err == nil {
		t.Error("New without RedisConnOpt: want an error")
	}
}

func TestOwnPagesSendSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := http.Get(f.http.URL + "/dlq")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("/dlq CSP = %q", csp)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("/dlq may be framed (clickjacking on the purge button)")
	}
}
