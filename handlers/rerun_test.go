package handlers_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// The re-run check depends on this: asynq's recoverer hands a task whose
// lease expired back with ErrLeaseExpired and counts it as a failure only if
// IsFailure says so, and only a counted run checks the done marker.
func TestLeaseExpiryCountsAsAFailure(t *testing.T) {
	if !handlers.IsFailure(asynq.ErrLeaseExpired) {
		t.Fatal("IsFailure(ErrLeaseExpired) = false: a task recovered after a lost acknowledgement would call the vendor again")
	}
}

// A run that is not the task's first finds the marker an earlier run left
// and completes without calling; the first run never reads it (it called
// although the marker was there), so it pays nothing for the check.
func TestRerunOfADoneTaskDoesNotCall(t *testing.T) {
	v := &script{steps: []error{transient}}
	r := start(t, v, 3, 30*time.Second)
	// As a run whose call succeeded but whose acknowledgement was lost leaves it.
	if err := r.rdb.Set(context.Background(), keys.Dedupe("forms", "k1"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	r.enqueue(t, "k1")
	r.waitDrained(t)
	if v.Calls() != 1 || r.dlqCount(t) != 0 {
		t.Fatalf("calls %d (want 1: the first run only), dead letters %d", v.Calls(), r.dlqCount(t))
	}
}

// Every task leaves its done marker: a keyed one for dedupe.window, an
// unkeyed one (random id: no producer can ever meet it) for a day.
func TestEveryTaskLeavesADoneMarker(t *testing.T) {
	v := &script{}
	r := start(t, v, 3, 30*time.Second)
	r.enqueue(t, "keyed-1")
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{"x":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.client.Enqueue(task)
	if err != nil {
		t.Fatal(err)
	}
	r.waitDrained(t)
	ctx := context.Background()
	for _, c := range []struct {
		id       string
		min, max time.Duration
	}{
		{"keyed-1", config.DefaultDedupeWindow - time.Minute, config.DefaultDedupeWindow},
		{info.ID, 24*time.Hour - time.Minute, 24 * time.Hour},
	} {
		ttl, err := r.rdb.TTL(ctx, keys.Dedupe("forms", c.id)).Result()
		if err != nil || ttl < c.min || ttl > c.max {
			t.Errorf("marker of %s: TTL %v (%v), want in [%v, %v]", c.id, ttl, err, c.min, c.max)
		}
	}
	if v.Calls() != 2 {
		t.Fatalf("calls %d, want 2", v.Calls())
	}
}
