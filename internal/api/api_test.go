package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

const token = "test-token-0123456789abcdef"

const testConfig = `
endpoints:
  forms:  { vendor: baibaoyun, base_url: "http://127.0.0.1:1", api_key: k }
  tables: { vendor: yesapi,    base_url: "http://127.0.0.1:1/", app_key: k, app_secret: s }
  gjy:    { vendor: dhgjcloud, base_url: "http://127.0.0.1:1", client_id: c, client_secret: s }
  sms:    { vendor: caihcom,   base_url: "http://127.0.0.1:1", appkey: a, app_id: b, auth_token: t }
`

func testCfg(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// env is one API server on its own Redis database, driven by a real
// http.Client whose transport checks every answer against api/openapi.json.
type env struct {
	t      *testing.T
	url    string
	client *http.Client
	rdb    *redis.Client
	insp   *asynq.Inspector
	server *api.Server
}

func newEnv(t *testing.T, mod ...func(*api.Options)) *env {
	t.Helper()
	db := srv.FreshDB(t)
	rdb := srv.Client(t, db)
	client := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	o := api.Options{Producer: producer.New(testCfg(t), client, rdb), Token: token, Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	for _, f := range mod {
		f(&o)
	}
	return startEnv(t, o, rdb, insp)
}

func startEnv(t *testing.T, o api.Options, rdb *redis.Client, insp *asynq.Inspector) *env {
	t.Helper()
	s, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := ts.Client()
	c.Transport = &checkingTransport{t: t, base: c.Transport, doc: loadDoc(t)}
	c.Timeout = 60 * time.Second
	return &env{t: t, url: ts.URL, client: c, rdb: rdb, insp: insp, server: s}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errors(t *testing.T) []api.FieldError {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil || len(eb.Errors) == 0 {
		t.Fatalf("status %d: body is not an error body: %s (%v)", a.status, a.body, err)
	}
	return eb.Errors
}

// do sends method path body with the bearer token (unless tok is given).
func (e *env) do(method, path, body string, header ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) pending(queue string) int {
	e.t.Helper()
	qi, err := e.insp.GetQueueInfo(queue)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0
		}
		e.t.Fatal(err)
	}
	return qi.Pending
}

const goodRecord = `{"endpoint":"forms","table":"app1/entry1","data":{"name":"张三","n":1},"key":"order-1"}`
const goodSMS = `{"endpoint":"sms","phones":["13800000000","13900000001"],"content":"您好","sign":"【X】"}`

func TestRecordAcceptedThenDuplicate(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/v1/tasks/record", goodRecord)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var tr api.TaskResponse
	if err := json.Unmarshal(a.body, &tr); err != nil || tr.TaskID != "order-1" || tr.Duplicate {
		t.Fatalf("body %s (%v)", a.body, err)
	}
	info, err := e.insp.GetTaskInfo("forms", "order-1")
	if err != nil {
		t.Fatalf("task not on the forms queue: %v", err)
	}
	var got tasks.RecordCreate
	if err := json.Unmarshal(info.Payload, &got); err != nil || info.Type != tasks.TypeRecordCreate || got.Table != "app1/entry1" || string(got.Data) != `{"name":"张三","n":1}` {
		t.Fatalf("queued task %s %s (%v)", info.Type, info.Payload, err)
	}
	// Same key again while queued: asynq's task ID blocks it.
	a = e.do("POST", "/v1/tasks/record", goodRecord)
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"duplicate":true`) || !strings.Contains(string(a.body), `"task_id":"order-1"`) {
		t.Fatalf("repeat: status %d: %s", a.status, a.body)
	}
	// Same key after the task finished: the worker's dedupe marker blocks it.
	if err := e.rdb.Set(context.Background(), keys.Dedupe("forms", "order-2"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	a = e.do("POST", "/v1/tasks/record", strings.Replace(goodRecord, "order-1", "order-2", 1))
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"duplicate":true`) {
		t.Fatalf("finished key: status %d: %s", a.status, a.body)
	}
	if n := e.pending("forms"); n != 1 {
		t.Fatalf("%d tasks pending on forms, want 1", n)
	}
}

func TestSMSAccepted(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/v1/tasks/sms", goodSMS)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var tr api.TaskResponse
	if err := json.Unmarshal(a.body, &tr); err != nil || tr.TaskID == "" || tr.Duplicate {
		t.Fatalf("body %s (%v)", a.body, err)
	}
	if _, err := e.insp.GetTaskInfo("sms", tr.TaskID); err != nil {
		t.Fatalf("task %s not on the sms queue: %v", tr.TaskID, err)
	}
	// Without a key every call is a new task.
	if a := e.do("POST", "/v1/tasks/sms", goodSMS); a.status != http.StatusAccepted {
		t.Fatalf("second keyless: status %d", a.status)
	}
	if n := e.pending("sms"); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, path, body string
		field, reason    string
	}{
		{"unknown endpoint", "/v1/tasks/record", `{"endpoint":"nope","table":"a/b","data":{}}`, "endpoint", `unknown endpoint "nope"`},
		{"bad phone", "/v1/tasks/sms", `{"endpoint":"sms","phones":["13800000000","1380000000x"],"content":"hi"}`, "phones[1]", "not an 11-digit"},
		{"data not an object", "/v1/tasks/record", `{"endpoint":"forms","table":"a/b","data":[1,2]}`, "data", "JSON object"},
		{"data missing", "/v1/tasks/record", `{"endpoint":"forms","table":"a/b"}`, "data", "required"},
		{"table form", "/v1/tasks/record", `{"endpoint":"forms","table":"nosep","data":{}}`, "table", "APP_ID/ENTRY_ID"},
		{"record on sms endpoint", "/v1/tasks/record", `{"endpoint":"sms","table":"a/b","data":{}}`, "endpoint", "SMS endpoint"},
		{"sms on record endpoint", "/v1/tasks/sms", `{"endpoint":"forms","phones":["13800000000"],"content":"x"}`, "endpoint", "record endpoint"},
		{"malformed JSON", "/v1/tasks/record", "{\n  \"endpoint\": \"forms\",\n  \"table\" \"a/b\"\n}", "body", "at line 3, column 11 (byte offset 35)"},
		{"truncated JSON", "/v1/tasks/record", `{"endpoint":"forms"`, "body", "truncated"},
		{"unknown field", "/v1/tasks/sms", `{"endpoint":"sms","phone":["13800000000"],"content":"x"}`, "phone", "unknown field (known: endpoint, phones, content, sign, subcode, sendtime, key, priority, "},
		{"wrong type", "/v1/tasks/sms", `{"endpoint":"sms","phones":"13800000000","content":"x"}`, "phones", "must be an array of strings, got string (the value ends at line 1, column 40 (byte offset 39))"},
		{"not an object", "/v1/tasks/record", `["x"]`, "body", "must be a JSON object, got array"},
		{"empty body", "/v1/tasks/record", ``, "body", "is empty"},
		{"trailing data", "/v1/tasks/record", goodRecord + "\n {}", "body", "unexpected data after the JSON value at line 2, column 2"},
		{"column counts characters", "/v1/tasks/record", `{"table":"表格" x}`, "body", "at line 1, column 15 (byte offset 18)"},
		{"key too long", "/v1/tasks/record", `{"endpoint":"forms","table":"a/b","data":{},"key":"` + strings.Repeat("k", 201) + `"}`, "key", "at most 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", tc.path, tc.body, "Content-Type", "application/json")
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			errs := a.errors(t)
			if errs[0].Field != tc.field || !strings.Contains(errs[0].Reason, tc.reason) {
				t.Fatalf("got %+v, want field %q with reason containing %q", errs, tc.field, tc.reason)
			}
		})
	}
	if n := e.pending("forms") + e.pending("sms"); n != 0 {
		t.Fatalf("%d tasks enqueued by bad requests", n)
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	for name, auth := range map[string]string{
		"missing":      "",
		"wrong token":  "Bearer not-the-token-at-all-xxxx",
		"token prefix": "Bearer " + token[:len(token)-1],
		"basic scheme": "Basic dXNlcjpwYXNz",
		"no scheme":    token,
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/v1/tasks/record", "/v1/tasks/sms", "/v1/tasks:batch"} {
				a := e.do("POST", path, goodRecord, "Authorization", auth)
				if a.status != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401", path, a.status)
				}
				if wa := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, `Bearer realm="vendorq"`) {
					t.Fatalf("%s: WWW-Authenticate %q", path, wa)
				}
				if errs := a.errors(t); errs[0].Field != "Authorization" || strings.Contains(errs[0].Reason, token) {
					t.Fatalf("%s: %+v", path, errs)
				}
			}
		})
	}
	if n := e.pending("forms"); n != 0 {
		t.Fatalf("%d tasks enqueued without a valid token", n)
	}
	// The scheme is case-insensitive (RFC 7235).
	if a := e.do("POST", "/v1/tasks/record", goodRecord, "Authorization", "bearer "+token); a.status != http.StatusAccepted {
		t.Fatalf("lower-case scheme: status %d", a.status)
	}
}

func TestNoTokenRefused(t *testing.T) {
	for _, tok := range []string{"", "   ", "short-token"} {
		if _, err := api.New(api.Options{Token: tok}); !errors.Is(err, api.ErrNoToken) {
			t.Fatalf("token %q: err %v, want ErrNoToken", tok, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	e := newEnv(t)
	// One byte over the single-task limit, otherwise a valid task.
	pad := api.MaxTaskBytes - len(goodRecord) + 1
	big := strings.Replace(goodRecord, `"n":1`, `"n":1,"pad":"`+strings.Repeat("x", pad-len(`,"pad":""`))+`"`, 1)
	if len(big) != api.MaxTaskBytes+1 {
		t.Fatalf("test body is %d bytes", len(big))
	}
	for _, path := range []string{"/v1/tasks/record", "/v1/tasks/sms"} {
		a := e.do("POST", path, big)
		if a.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: status %d, want 413", path, a.status)
		}
		if errs := a.errors(t); errs[0].Field != "body" || !strings.Contains(errs[0].Reason, "262144-byte limit") {
			t.Fatalf("%+v", errs)
		}
	}
	// Exactly at the limit is not refused for its size.
	atLimit := strings.Replace(big, `"x`, `"`, 1)
	if a := e.do("POST", "/v1/tasks/record", atLimit); a.status == http.StatusRequestEntityTooLarge {
		t.Fatalf("a body of exactly %d bytes was refused", len(atLimit))
	}
	// Batch: over MaxBatchBytes as a whole.
	item := `{"type":"record","task":` + goodRecord + `}`
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for b.Len() <= api.MaxBatchBytes {
		b.WriteString(item + `,` + strings.Repeat(" ", 64<<10))
	}
	b.WriteString(item + `]}`)
	a := e.do("POST", "/v1/tasks:batch", b.String())
	if a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.errors(t)[0].Reason, "16777216-byte limit") {
		t.Fatalf("batch: status %d: %.200s", a.status, a.body)
	}
	if n := e.pending("forms"); n != 1 {
		t.Fatalf("%d pending on forms, want only the at-limit task", n)
	}
}

func TestMethodPathMediaType(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/tasks/record", "/v1/tasks/sms", "/v1/tasks:batch"} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			a := e.do(m, path, "")
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" {
				t.Fatalf("%s %s: status %d allow %q", m, path, a.status, a.header.Get("Allow"))
			}
			if errs := a.errors(t); errs[0].Field != "method" {
				t.Fatalf("%+v", errs)
			}
		}
	}
	if a := e.do("POST", "/openapi.json", "{}"); a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET" {
		t.Fatalf("POST /openapi.json: %d", a.status)
	}
	if a := e.do("POST", "/v1/tasks", "{}"); a.status != http.StatusNotFound || a.errors(t)[0].Field != "path" {
		t.Fatalf("unknown path: %d %s", a.status, a.body)
	}
	a := e.do("POST", "/v1/tasks/record", "endpoint=forms", "Content-Type", "application/x-www-form-urlencoded")
	if a.status != http.StatusUnsupportedMediaType || a.errors(t)[0].Field != "Content-Type" {
		t.Fatalf("form body: %d %s", a.status, a.body)
	}
	// No Content-Type at all is accepted (many clients send none).
	if a := e.do("POST", "/v1/tasks/record", goodRecord, "Content-Type", ""); a.status != http.StatusAccepted {
		t.Fatalf("no content type: %d %s", a.status, a.body)
	}
	if a := e.do("POST", "/v1/tasks/record", strings.Replace(goodRecord, "order-1", "order-9", 1), "Content-Type", "application/json; charset=utf-8"); a.status != http.StatusAccepted {
		t.Fatalf("json with charset: %d %s", a.status, a.body)
	}
}

// deadRedis is an API whose Redis refuses connections.
func deadRedis(t *testing.T) *env {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	o := api.Options{Producer: producer.New(testCfg(t), client, rdb), Token: token, Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	return startEnv(t, o, rdb, nil)
}

func TestRedisDown(t *testing.T) {
	e := deadRedis(t)
	for _, tc := range []struct{ path, body string }{
		{"/v1/tasks/record", goodRecord},
		{"/v1/tasks/sms", goodSMS},
	} {
		a := e.do("POST", tc.path, tc.body)
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Fatalf("%s: status %d retry-after %q", tc.path, a.status, a.header.Get("Retry-After"))
		}
		if errs := a.errors(t); !strings.Contains(errs[0].Reason, "Redis") || strings.Contains(errs[0].Reason, "127.0.0.1") {
			t.Fatalf("%s: %+v (the reason must not name hosts)", tc.path, errs)
		}
	}
	// Validation still answers 400 first: a bad task is the client's fault whatever Redis does.
	if a := e.do("POST", "/v1/tasks/record", `{"endpoint":"nope","table":"a/b","data":{}}`); a.status != http.StatusBadRequest {
		t.Fatalf("bad task with Redis down: %d", a.status)
	}
	a := e.do("POST", "/v1/tasks:batch", `{"items":[{"type":"record","task":`+goodRecord+`},{"type":"sms","task":{"endpoint":"sms"}}]}`)
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	var br api.BatchResponse
	if err := json.Unmarshal(a.body, &br); err != nil {
		t.Fatal(err)
	}
	if br.Failed != 1 || br.Rejected != 1 || br.Results[0].Status != 503 || br.Results[1].Status != 400 {
		t.Fatalf("batch results %+v", br)
	}
	if a := e.do("GET", "/healthz", ""); a.status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with Redis down: %d", a.status)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	a := e.do("GET", "/healthz", "", "Authorization", "")
	if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"ok"`)) {
		t.Fatalf("healthz: %d %s", a.status, a.body)
	}
}
