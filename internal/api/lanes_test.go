package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/tasks"
)

// taskResp decodes a single-task answer.
func taskResp(t *testing.T, a answer) api.TaskResponse {
	t.Helper()
	var r api.TaskResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("status %d: %s (%v)", a.status, a.body, err)
	}
	return r
}

// "priority" and "not_before" of a single task reach the task: its queue
// is the lane's, and a future not_before makes it scheduled at exactly
// that time (a past one runs now).
func TestSingleTaskPriorityAndNotBefore(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	a := e.do("POST", "/v1/tasks/sms", `{"endpoint":"sms","phones":["13800000000"],"content":"验证码 1","sign":"【X】","key":"otp-1","priority":"high"}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("sms: status %d %s", a.status, a.body)
	}
	ti, err := e.insp.GetTaskInfo("sms:high", taskResp(t, a).TaskID)
	if err != nil || ti.State != asynq.TaskStatePending {
		t.Fatalf("sms task on sms:high: %+v %v, want pending", ti, err)
	}

	body := `{"endpoint":"forms","table":"app1/entry1","data":{"n":1},"key":"later-1","priority":"low","not_before":"` + at.Format(time.RFC3339) + `"}`
	if a = e.do("POST", "/v1/tasks/record", body); a.status != http.StatusAccepted {
		t.Fatalf("record: status %d %s", a.status, a.body)
	}
	ti, err = e.insp.GetTaskInfo("forms:low", "later-1")
	if err != nil || ti.State != asynq.TaskStateScheduled || !ti.NextProcessAt.Equal(at) {
		t.Fatalf("record task on forms:low: %+v %v, want scheduled at %v", ti, err, at)
	}
	// The same key again, on another lane and without a time: the task
	// already there (scheduled) answers, nothing new is queued.
	again := `{"endpoint":"forms","table":"app1/entry1","data":{"n":1},"key":"later-1","priority":"high"}`
	if a = e.do("POST", "/v1/tasks/record", again); a.status != http.StatusOK || !taskResp(t, a).Duplicate {
		t.Fatalf("same key on another lane: status %d %s, want 200 duplicate", a.status, a.body)
	}
	if _, err := e.insp.GetTaskInfo("forms:high", "later-1"); err == nil {
		t.Fatal("the duplicate went onto forms:high")
	}

	past := time.Now().Add(-time.Hour).Format(time.RFC3339)
	body = `{"endpoint":"forms","table":"app1/entry1","data":{"n":2},"key":"past-1","not_before":"` + past + `"}`
	if a = e.do("POST", "/v1/tasks/record", body); a.status != http.StatusAccepted {
		t.Fatalf("past not_before: status %d %s", a.status, a.body)
	}
	if ti, err = e.insp.GetTaskInfo("forms", "past-1"); err != nil || ti.State != asynq.TaskStatePending {
		t.Fatalf("past not_before: %+v %v, want pending on forms (runs now)", ti, err)
	}
}

// A batch item's task carries its own priority and not_before; a bad one
// is rejected naming the item's field, the others go in.
func TestBatchItemPriorityAndNotBefore(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(90 * time.Minute).Truncate(time.Second)
	items := []string{
		`{"type":"sms","task":{"endpoint":"sms","phones":["13800000000"],"content":"c","sign":"【X】","key":"b-high","priority":"high"}}`,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":1},"key":"b-later","not_before":"` + at.Format(time.RFC3339) + `"}}`,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":2},"key":"b-bad-time","not_before":"tomorrow"}}`,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":3},"key":"b-bad-lane","priority":"urgent"}}`,
	}
	a := e.do("POST", "/v1/tasks:batch", `{"items":[`+strings.Join(items, ",")+`]}`)
	if a.status != http.StatusOK {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	var resp api.BatchResponse
	if err := json.Unmarshal(a.body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Accepted != 2 || resp.Rejected != 2 {
		t.Fatalf("accepted %d rejected %d, want 2 and 2: %s", resp.Accepted, resp.Rejected, a.body)
	}
	for i, field := range map[int]string{2: "items[2].task.not_before", 3: "items[3].task.priority"} {
		if r := resp.Results[i]; r.Error == nil || r.Error.Field != field {
			t.Errorf("item %d: %+v, want an error on %s", i, r, field)
		}
	}
	if ti, err := e.insp.GetTaskInfo("sms:high", "b-high"); err != nil || ti.State != asynq.TaskStatePending {
		t.Errorf("b-high: %+v %v, want pending on sms:high", ti, err)
	}
	if ti, err := e.insp.GetTaskInfo("forms", "b-later"); err != nil || ti.State != asynq.TaskStateScheduled || !ti.NextProcessAt.Equal(at) {
		t.Errorf("b-later: %+v %v, want scheduled on forms at %v", ti, err, at)
	}
}

// Bad values are 400 naming the field, and nothing is queued.
func TestBadPriorityAndNotBefore(t *testing.T) {
	e := newEnv(t)
	tooFar := time.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct{ name, body, field, reason string }{
		{"unknown lane", `{"endpoint":"forms","table":"a/b","data":{},"priority":"urgent"}`, "priority", "must be high, default or low"},
		{"lane not a string", `{"endpoint":"forms","table":"a/b","data":{},"priority":1}`, "priority", "must be a string"},
		{"no zone", `{"endpoint":"forms","table":"a/b","data":{},"not_before":"2026-12-02T10:00:00"}`, "not_before", "RFC3339"},
		{"not a time", `{"endpoint":"forms","table":"a/b","data":{},"not_before":"in 5 minutes"}`, "not_before", "RFC3339"},
		{"not a string", `{"endpoint":"forms","table":"a/b","data":{},"not_before":1764640000}`, "not_before", "must be a string"},
		{"too far ahead", `{"endpoint":"forms","table":"a/b","data":{},"not_before":"` + tooFar + `"}`, "not_before", "366 days"},
		// The payload's own fields keep their JSON names when a type is wrong.
		{"embedded field type", `{"endpoint":"forms","table":"a/b","data":{},"key":5}`, "key", "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", "/v1/tasks/record", tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			if errs := a.errors(t); errs[0].Field != tc.field || !strings.Contains(errs[0].Reason, tc.reason) {
				t.Fatalf("got %+v, want field %q with reason containing %q", errs, tc.field, tc.reason)
			}
		})
	}
	for _, q := range tasks.Queues("forms") {
		if qi, err := e.insp.GetQueueInfo(q); err == nil && qi.Size != 0 {
			t.Fatalf("%d tasks on %s after bad requests", qi.Size, q)
		}
	}
}
