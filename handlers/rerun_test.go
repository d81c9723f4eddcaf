package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/keys"
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
