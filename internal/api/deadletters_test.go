package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// dlqEnv is an API server with the dead-letter routes, and on forms 30
// dead letters (20 × 4001, the newest 10 within the last 15 minutes, and
// 10 × 4002), on sms 5 × 8201 whose errors and payloads carry a phone.
// since=15m falls 5 minutes or more from the nearest entry either side (10 and 21
// minutes ago): the margin for the time the test takes.
func dlqEnv(t *testing.T) (*env, *dlq.Store) {
	t.Helper()
	db := srv.FreshDB(t)
	rdb := srv.Client(t, db)
	client := asynq.NewClientFromRedisClient(rdb)
	store := dlq.New(rdb)
	o := api.Options{Producer: producer.New(testCfg(t), client, rdb), Token: token, DeadLetters: store, Replayer: client}
	e := startEnv(t, o, rdb, asynq.NewInspectorFromRedisClient(rdb))
	now := time.Now()
	var es []dlq.Entry
	for i := range 35 {
		ep, code, typ := "forms", "4001", tasks.TypeRecordCreate
		switch {
		case i >= 30:
			ep, code, typ = "sms", "8201", tasks.TypeSMSSend
		case i >= 20:
			code = "4002"
		}
		at := now.Add(-time.Duration(i+1) * time.Minute)
		if i >= 10 && i < 20 {
			at = now.Add(-time.Duration(i+20) * time.Minute)
		}
		p, _ := json.Marshal(map[string]any{"endpoint": ep, "phones": []string{"13812345678"}, "i": i})
		es = append(es, dlq.Entry{ID: fmt.Sprintf("%s-%02d", ep, i), Type: typ, Endpoint: ep, Class: "permanent", Code: code,
			Error: "gateway: 13812345678 refused, code=" + code, Attempts: 1, FirstAttempt: at, LastAttempt: at, Payload: p})
	}
	if err := store.AddMany(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	return e, store
}

// The listing pages by cursor with the filters, masks phones, and every
// answer matches api/openapi.json (the env's transport checks).
func TestDeadLettersListPages(t *testing.T) {
	e, _ := dlqEnv(t)
	var ids []string
	after := ""
	for pages := 0; ; pages++ {
		q := url.Values{"endpoint": {"forms"}, "code": {"4001"}, "limit": {"6"}}
		if after != "" {
			q.Set("after", after)
		}
		a := e.do("GET", "/v1/dead-letters?"+q.Encode(), "")
		if a.status != http.StatusOK || pages > 5 {
			t.Fatalf("page %d: %d %s", pages, a.status, a.body)
		}
		var p api.DeadLetterPage
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatal(err)
		}
		for _, d := range p.Entries {
			ids = append(ids, d.ID)
			if d.Code != "4001" || d.Endpoint != "forms" {
				t.Fatalf("filter let through %+v", d)
			}
		}
		if strings.Contains(string(a.body), "13812345678") || !strings.Contains(string(a.body), "138****5678") {
			t.Fatalf("phones not masked: %s", a.body)
		}
		if after = p.Next; after == "" {
			break
		}
	}
	if len(ids) != 20 || ids[0] != "forms-00" || ids[9] != "forms-09" || ids[10] != "forms-10" {
		t.Fatalf("listed %v", ids)
	}
	// Time range and text, several codes.
	a := e.do("GET", "/v1/dead-letters?since=15m&code=4001,4002&grep=REFUSED", "")
	var p api.DeadLetterPage
	if err := json.Unmarshal(a.body, &p); err != nil || a.status != 200 || len(p.Entries) != 10 || p.Next != "" {
		t.Fatalf("since 15m: %d %s", a.status, a.body)
	}
}

func TestDeadLettersCount(t *testing.T) {
	e, _ := dlqEnv(t)
	a := e.do("GET", "/v1/dead-letters/count?by=code", "")
	var c api.DeadLetterCount
	if err := json.Unmarshal(a.body, &c); err != nil || a.status != 200 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if fmt.Sprint(c.Groups) != "[{4001 20} {4002 10} {8201 5}]" || c.Total != 35 || c.By != "code" {
		t.Fatalf("count by code: %+v", c)
	}
	a = e.do("GET", "/v1/dead-letters/count?type=sms:send", "")
	if err := json.Unmarshal(a.body, &c); err != nil || c.Total != 5 || c.By != "endpoint" {
		t.Fatalf("count of sms:send: %s", a.body)
	}
}

func TestDeadLettersReplay(t *testing.T) {
	e, store := dlqEnv(t)
	a := e.do("POST", "/v1/dead-letters:replay", `{"endpoint":"forms","code":["4001"],"since":"15m","dry_run":true}`)
	if a.status != 200 || strings.TrimSpace(string(a.body)) != `{"matched":10}` {
		t.Fatalf("dry run: %d %s", a.status, a.body)
	}
	a = e.do("POST", "/v1/dead-letters:replay", `{"endpoint":"forms","code":["4001"],"since":"15m"}`)
	if a.status != 200 || strings.TrimSpace(string(a.body)) != `{"replayed":10,"skipped":0}` {
		t.Fatalf("replay: %d %s", a.status, a.body)
	}
	qi, err := e.insp.GetQueueInfo(tasks.Queue("forms", tasks.PriorityDefault))
	if err != nil || qi.Pending != 10 {
		t.Fatalf("queue after replay: %+v %v", qi, err)
	}
	if n, _ := store.Total(context.Background(), dlq.Filter{}); n != 25 {
		t.Fatalf("%d dead letters left, want 25", n)
	}
}

// A bad filter is a 400 naming the parameter or field; nothing replayed.
func TestDeadLettersBadFilter(t *testing.T) {
	e, store := dlqEnv(t)
	for _, tc := range []struct{ method, path, body, field string }{
		{"GET", "/v1/dead-letters?class=fatal", "", "class"},
		{"GET", "/v1/dead-letters?type=record", "", "type"},
		{"GET", "/v1/dead-letters?since=yesterday", "", "since"},
		{"GET", "/v1/dead-letters?limit=0", "", "limit"},
		{"GET", "/v1/dead-letters?after=nonsense", "", "after"},
		{"GET", "/v1/dead-letters?colour=red", "", "colour"},
		{"GET", "/v1/dead-letters/count?by=phase", "", "by"},
		{"POST", "/v1/dead-letters:replay", `{"class":"fatal"}`, "class"},
		{"POST", "/v1/dead-letters:replay", `{"codes":["4001"]}`, "codes"},
		{"POST", "/v1/dead-letters:replay", `{"until":"2h","since":"1h"}`, "until"},
		// An endpoint neither configured nor holding dead letters: a typo.
		{"GET", "/v1/dead-letters?endpoint=froms", "", "endpoint"},
		{"GET", "/v1/dead-letters/count?endpoint=froms", "", "endpoint"},
		{"POST", "/v1/dead-letters:replay", `{"endpoint":"froms"}`, "endpoint"},
	} {
		a := e.do(tc.method, tc.path, tc.body)
		if a.status != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, a.status, a.body)
			continue
		}
		if errs := a.errors(t); errs[0].Field != tc.field {
			t.Errorf("%s %s %s: field %q, want %q (%s)", tc.method, tc.path, tc.body, errs[0].Field, tc.field, a.body)
		}
	}
	if n, _ := store.Total(context.Background(), dlq.Filter{}); n != 35 {
		t.Fatalf("a bad request changed the store: %d of 35", n)
	}
	// A configured endpoint without dead letters lists none; a retired
	// one (in no config) that holds some still lists them.
	if err := store.AddMany(context.Background(), []dlq.Entry{{ID: "old-1", Type: tasks.TypeRecordCreate, Endpoint: "retired", Class: "permanent", Code: "4001"}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/v1/dead-letters?endpoint=tables": 0, "/v1/dead-letters?endpoint=retired": 1} {
		a := e.do("GET", path, "")
		var p api.DeadLetterPage
		if a.status != http.StatusOK || json.Unmarshal(a.body, &p) != nil || len(p.Entries) != want {
			t.Errorf("GET %s: %d %s, want 200 with %d entries", path, a.status, a.body, want)
		}
	}
	if a := e.do("GET", "/v1/dead-letters", "", "Authorization", ""); a.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", a.status)
	}
}
