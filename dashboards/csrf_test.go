package dashboards_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/tasks"
)

// enqueueOrders puts pending record tasks with guessable ids (order-N) on
// queue forms.
func enqueueOrders(t *testing.T, f *fixture, ids ...string) {
	t.Helper()
	for _, id := range ids {
		task := asynq.NewTask(tasks.TypeRecordCreate, []byte(`{"endpoint":"forms","table":"a/b","data":{}}`))
		if _, err := f.client.EnqueueContext(ctxT(t), task, asynq.Queue("forms"), asynq.TaskID(id)); err != nil {
			t.Fatal(err)
		}
	}
}

// The cross-site attacks of issue 9 on asynqmon's own API: from a page on
// another site, pause a queue, archive every pending task, delete a task
// with a text/plain "simple" request (no preflight). Each is refused and
// changes nothing, with or without a valid token (cross-site is enough),
// and a same-origin request without the token is refused too.
func TestAsynqmonMutationsNeedSameOriginAndToken(t *testing.T) {
	var logs itest.Buffer
	f := newFixture(t, func(o *dashboards.Options) { o.Log = zerolog.New(&logs) })
	in := insp(t, f)
	enqueueOrders(t, f, "order-41", "order-42", "order-43")
	cookie := f.xsrf(t)
	const api = "/monitoring/api/queues/forms"
	crossSite := []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}},
		{"Sec-Fetch-Site": {"same-site"}}, // a sibling subdomain is another origin too
		{"Sec-Fetch-Site": {"cross-site"}, "X-Xsrf-Token": {cookie.Value}},
	}
	attacks := []struct{ method, path, ctype, body string }{
		{http.MethodPost, api + ":pause", "", ""},
		{http.MethodPost, api + "/pending_tasks:archive_all", "", ""},
		{http.MethodPost, api + "/pending_tasks:batch_delete", "text/plain", `{"task_ids":["order-42"]}`},
		{http.MethodPost, api + "/pending_tasks:batch_archive", "application/x-www-form-urlencoded", `task_ids=order-42`},
		{http.MethodDelete, api + "/pending_tasks/order-41", "", ""},
		{http.MethodDelete, api + "/pending_tasks:delete_all", "", ""},
	}
	check := func(what string) {
		t.Helper()
		qi, err := in.GetQueueInfo("forms")
		if err != nil {
			t.Fatal(err)
		}
		if qi.Paused || qi.Pending != 3 || qi.Archived != 0 {
			t.Fatalf("after %s: queue forms paused=%v pending=%d archived=%d; want running, 3 pending, 0 archived", what, qi.Paused, qi.Pending, qi.Archived)
		}
	}
	for _, a := range attacks {
		for _, h := range crossSite {
			h = h.Clone()
			if a.ctype != "" {
				h.Set("Content-Type", a.ctype)
			}
			if code, body := do(t, f.request(t, a.method, a.path, a.body, h)); code != http.StatusForbidden {
				t.Errorf("cross-site %s %s %v: %d %s, want 403", a.method, a.path, h, code, body)
			}
			check("cross-site " + a.method + " " + a.path)
		}
		// Same origin (or no browser at all) but no token: refused too.
		for _, h := range []http.Header{{"Sec-Fetch-Site": {"same-origin"}}, {}, {"Sec-Fetch-Site": {"same-origin"}, "Cookie": {cookie.String()}}} {
			code, body := do(t, f.request(t, a.method, a.path, a.body, h))
			if code != http.StatusForbidden || !strings.Contains(body, "X-XSRF-TOKEN") {
				t.Errorf("tokenless %s %s %v: %d %q, want 403 naming the header", a.method, a.path, h, code, body)
			}
			check("tokenless " + a.method + " " + a.path)
		}
	}
	// The refusals are logged, a bounded number of them.
	if n := strings.Count(logs.String(), "refused (CSRF guard)"); n == 0 || n > 20 {
		t.Errorf("%d refusals logged for %d refused requests; want some, at most 20 a minute", n, len(attacks)*(len(crossSite)+3))
	}
	// What asynqmon's UI sends (axios copies the cookie into the header) works.
	legit := func(method, path, body string) int {
		h := http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {f.http.URL}, "Cookie": {cookie.String()}, "X-Xsrf-Token": {cookie.Value}, "Content-Type": {"application/json"}}
		code, _ := do(t, f.request(t, method, path, body, h))
		return code
	}
	if code := legit(http.MethodPost, api+"/pending_tasks:batch_delete", `{"task_ids":["order-42"]}`); code != http.StatusOK {
		t.Errorf("same-origin batch_delete with the token: %d, want 200", code)
	}
	if _, err := in.GetTaskInfo("forms", "order-42"); err == nil {
		t.Error("order-42 still exists after a legitimate batch_delete")
	}
	if code := legit(http.MethodPost, api+":pause", ""); code != http.StatusNoContent {
		t.Errorf("same-origin pause with the token: %d, want 204", code)
	}
	if qi, _ := in.GetQueueInfo("forms"); !qi.Paused {
		t.Error("queue forms not paused after a legitimate pause")
	}
}

// The cookie asynqmon's axios reads: on asynqmon's pages only, readable by
// scripts (not HttpOnly), SameSite=Strict, renewed only when stale.
func TestXSRFCookie(t *testing.T) {
	f := newFixture(t, nil)
	c := f.xsrf(t)
	if c.Path != "/monitoring" || c.SameSite != http.SameSiteStrictMode || c.HttpOnly || c.MaxAge <= 0 {
		t.Errorf("XSRF-TOKEN cookie = %+v; want Path=/monitoring, SameSite=Strict, not HttpOnly, a Max-Age", c)
	}
	req := f.request(t, http.MethodGet, "/monitoring/api/queues", "", http.Header{"Cookie": {c.String()}})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("a fresh cookie was replaced: %q", sc)
	}
	req = f.request(t, http.MethodGet, "/monitoring/api/queues", "", http.Header{"Cookie": {"XSRF-TOKEN=forged"}})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 || resp.Cookies()[0].Value == "forged" {
		t.Errorf("a forged cookie was not replaced: %q", resp.Header.Values("Set-Cookie"))
	}
	resp, err = http.Get(f.http.URL + "/dlq")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 0 {
		t.Errorf("/dlq sets cookies: %q", resp.Header.Values("Set-Cookie"))
	}
}

// A form served by one process is accepted by another one behind the
// same load balancer when both have the same secret, and only then.
func TestCSRFTokensSurviveALoadBalancer(t *testing.T) {
	secret := []byte(strings.Repeat("s3cret-", 6))
	a := newFixture(t, func(o *dashboards.Options) { o.CSRFSecret = secret })
	b := a.twin(t, nil)
	other := a.twin(t, func(o *dashboards.Options) { o.CSRFSecret = nil }) // a random secret of its own
	addDead(t, a.store, "sms", 1)
	token := a.csrf(t)
	form := map[string]string{"csrf": token, "endpoint": "sms", "confirm": "yes"}
	if code, _ := other.postForm(t, "/dlq/purge", form, nil); code != http.StatusForbidden {
		t.Errorf("a process with another secret accepted the token: %d, want 403", code)
	}
	if n, _ := a.store.Count(ctxT(t), "sms"); n != 1 {
		t.Fatalf("the refused purge removed dead letters: %d left", n)
	}
	if code, body := b.postForm(t, "/dlq/purge", form, nil); code != http.StatusSeeOther {
		t.Errorf("a process with the same secret refused the token: %d %s, want 303", code, body)
	}
	req := b.request(t, http.MethodPost, "/monitoring/api/queues/forms:pause", "", http.Header{"X-Xsrf-Token": {a.xsrf(t).Value}})
	if code, _ := do(t, req); code != http.StatusNoContent {
		t.Errorf("asynqmon pause with a cookie of the twin process: %d, want 204", code)
	}
	if _, err := dashboards.New(dashboards.Options{RedisConnOpt: a.conn.Asynq, DeadLetters: dashdeps.DeadLetters(a.store, nil), Gatherer: a.reg, ReadOnly: true, CSRFSecret: []byte("short")}); err == nil {
		t.Error("New accepted a 5-character CSRF secret")
	}
}

// A state-changing form in text/plain, or with the token in the query
// string, is no way around the token.
func TestDLQActionsWhateverTheContentType(t *testing.T) {
	f := newFixture(t, nil)
	addDead(t, f.store, "sms", 1)
	token := f.csrf(t)
	for _, req := range []*http.Request{
		f.request(t, http.MethodPost, "/dlq/purge", "csrf="+token+"&endpoint=sms&confirm=yes", http.Header{"Content-Type": {"text/plain"}}),
		f.request(t, http.MethodPost, "/dlq/purge?csrf="+token+"&endpoint=sms&confirm=yes", "", nil),
	} {
		if code, _ := do(t, req); code != http.StatusForbidden {
			t.Errorf("%s %s (%s): %d, want 403", req.Method, req.URL, req.Header.Get("Content-Type"), code)
		}
	}
	if n, _ := f.store.Count(ctxT(t), "sms"); n != 1 {
		t.Fatalf("a refused purge removed dead letters: %d left", n)
	}
}

// Scripts that hold the bearer token need no CSRF token: a browser never
// adds a bearer token by itself.
func TestBearerTokenNeedsNoCSRFToken(t *testing.T) {
	f := newFixture(t, func(o *dashboards.Options) { o.Credentials = dashboards.Credentials{Token: tok1} })
	req := f.request(t, http.MethodPost, "/monitoring/api/queues/forms:pause", "", http.Header{"Authorization": {"Bearer " + tok1}})
	if code, body := do(t, req); code != http.StatusNoContent {
		t.Fatalf("pause with the bearer token: %d %s, want 204", code, body)
	}
	req = f.request(t, http.MethodPost, "/monitoring/api/queues/forms:resume", "", http.Header{"Authorization": {"Bearer " + tok1}, "Sec-Fetch-Site": {"cross-site"}})
	if code, _ := do(t, req); code != http.StatusForbidden {
		t.Errorf("cross-site resume with the bearer token: %d, want 403", code)
	}
}
