package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/keys"
)

func batchOf(t *testing.T, items ...string) string {
	t.Helper()
	return `{"items":[` + strings.Join(items, ",") + `]}`
}

func decodeBatch(t *testing.T, a answer) api.BatchResponse {
	t.Helper()
	var br api.BatchResponse
	if err := json.Unmarshal(a.body, &br); err != nil {
		t.Fatalf("status %d: %s (%v)", a.status, a.body, err)
	}
	return br
}

func TestBatchMixed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.rdb.Set(ctx, keys.Dedupe("tables", "done-1"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	body := batchOf(t,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":0},"key":"k-0"}}`, // 0 new
		`{"type":"sms","task":`+goodSMS+`}`,                                                      // 1 new, random id
		`{"type":"sms","task":{"endpoint":"sms","phones":["13800000000","12"],"content":"x"}}`,   // 2 bad phone
		`{"type":"fax","task":{}}`, // 3 unknown type
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":4},"key":"k-0"}}`,    // 4 same key as 0
		`{"type":"record","task":{"endpoint":"tables","table":"model_a","data":{},"key":"done-1"}}`, // 5 finished key
		`{"type":"record","task":{"endpoint":"gjy","table":"/api/records","data":"x"}}`,             // 6 data not object
		`{"type":"record","task":{"endpoint":"tables","table":"model_a","data":{},"key":"k-0"}}`,    // 7 same key, other endpoint: new
		`{"type":"record","tsk":{}}`, // 8 unknown item field
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{},"extra":1}}`, // 9 unknown task field
	)
	a := e.do("POST", "/v1/tasks:batch", body)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	br := decodeBatch(t, a)
	if br.Accepted != 3 || br.Duplicates != 2 || br.Rejected != 5 || br.Failed != 0 || len(br.Results) != 10 {
		t.Fatalf("counts %+v", br)
	}
	want := []struct {
		status int
		id     string
		dup    bool
		field  string
	}{
		{202, "k-0", false, ""},
		{202, "*", false, ""},
		{400, "", false, "items[2].task.phones[1]"},
		{400, "", false, "items[3].type"},
		{200, "k-0", true, ""},
		{200, "done-1", true, ""},
		{400, "", false, "items[6].task.data"},
		{202, "k-0", false, ""},
		{400, "", false, "items[8].tsk"},
		{400, "", false, "items[9].task.extra"},
	}
	for i, w := range want {
		r := br.Results[i]
		if r.Index != i || r.Status != w.status || r.Duplicate != w.dup {
			t.Errorf("result %d: %+v, want %+v", i, r, w)
		}
		if w.id == "*" && r.TaskID == "" || w.id != "*" && r.TaskID != w.id {
			t.Errorf("result %d: task_id %q, want %q", i, r.TaskID, w.id)
		}
		if w.field == "" && r.Error != nil || w.field != "" && (r.Error == nil || r.Error.Field != w.field) {
			t.Errorf("result %d: error %+v, want field %q", i, r.Error, w.field)
		}
	}
	if p := [3]int{e.pending("forms"), e.pending("sms"), e.pending("tables")}; p != [3]int{1, 1, 1} {
		t.Fatalf("pending forms/sms/tables = %v, want 1 each", p)
	}
	info, err := e.insp.GetTaskInfo("forms", "k-0")
	if err != nil || !strings.Contains(string(info.Payload), `"i":0`) {
		t.Fatalf("the first item with key k-0 must be the one enqueued: %v %s", err, info.Payload)
	}
}

// A full batch: 1000 items, spread over the parallel parts, all accepted
// and answered in request order; replaying it enqueues nothing new.
func TestBatchFull(t *testing.T) {
	e := newEnv(t)
	items := make([]string, api.MaxBatchItems)
	for i := range items {
		if i%2 == 0 {
			items[i] = fmt.Sprintf(`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":%d},"key":"r-%d"}}`, i, i)
		} else {
			items[i] = fmt.Sprintf(`{"type":"sms","task":{"endpoint":"sms","phones":["138%08d"],"content":"m%d","key":"s-%d"}}`, i, i, i)
		}
	}
	body := batchOf(t, items...)
	for round, wantDup := range []bool{false, true} {
		a := e.do("POST", "/v1/tasks:batch", body)
		br := decodeBatch(t, a)
		if a.status != http.StatusOK || len(br.Results) != api.MaxBatchItems {
			t.Fatalf("round %d: status %d, %d results", round, a.status, len(br.Results))
		}
		for i, r := range br.Results {
			want := fmt.Sprintf("r-%d", i)
			if i%2 == 1 {
				want = fmt.Sprintf("s-%d", i)
			}
			if r.Index != i || r.TaskID != want || r.Duplicate != wantDup {
				t.Fatalf("round %d result %d: %+v", round, i, r)
			}
		}
		if wantDup && br.Duplicates != api.MaxBatchItems || !wantDup && br.Accepted != api.MaxBatchItems {
			t.Fatalf("round %d: %+v", round, br)
		}
	}
	if f, s := e.pending("forms"), e.pending("sms"); f != 500 || s != 500 {
		t.Fatalf("pending forms %d sms %d, want 500 each", f, s)
	}
}

func TestBatchEnvelopeErrors(t *testing.T) {
	e := newEnv(t)
	one := `{"type":"record","task":` + goodRecord + `}`
	over := make([]string, api.MaxBatchItems+1)
	for i := range over {
		over[i] = one
	}
	for _, tc := range []struct{ name, body, field, reason string }{
		{"too many", batchOf(t, over...), "items", "at most 1000 tasks per batch, got 1001"},
		{"empty", `{"items":[]}`, "items", "is empty"},
		{"missing", `{}`, "items", "is required"},
		{"not an array", `{"items":{"type":"record"}}`, "items", "must be an array"},
		{"unknown top-level field", `{"items":[` + one + `],"mode":"fast"}`, "mode", "unknown field"},
		{"malformed", `{"items":[` + one + `,]}`, "body", "malformed JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", "/v1/tasks:batch", tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d: %.300s", a.status, a.body)
			}
			if errs := a.errors(t); errs[0].Field != tc.field || !strings.Contains(errs[0].Reason, tc.reason) {
				t.Fatalf("%+v, want %s: %s", errs, tc.field, tc.reason)
			}
		})
	}
	if n := e.pending("forms"); n != 0 {
		t.Fatalf("%d enqueued by refused batches", n)
	}
}

// One oversized item is rejected on its own; the others go through.
func TestBatchItemTooLarge(t *testing.T) {
	e := newEnv(t)
	big := `{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"pad":"` + strings.Repeat("x", api.MaxTaskBytes) + `"}}}`
	a := e.do("POST", "/v1/tasks:batch", batchOf(t, big, `{"type":"record","task":`+goodRecord+`}`))
	br := decodeBatch(t, a)
	if a.status != http.StatusOK || br.Results[0].Status != 400 || br.Results[0].Error.Field != "items[0]" || br.Results[1].Status != 202 {
		t.Fatalf("status %d: %+v", a.status, br)
	}
}
