package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

func TestHold(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		at     time.Time
		held   bool
		tooFar bool
		want   time.Time // the ProcessAt when held; zero = at
	}{
		{"none", time.Time{}, false, false, time.Time{}},
		{"past: runs now", now.Add(-time.Hour), false, false, time.Time{}},
		{"now: runs now", now, false, false, time.Time{}},
		{"a second ahead", now.Add(time.Second), true, false, time.Time{}},
		{"a fraction: rounded up (asynq rounds down)", now.Add(1500 * time.Millisecond), true, false, now.Add(2 * time.Second)},
		{"just past a second", now.Add(time.Second + time.Nanosecond), true, false, now.Add(2 * time.Second)},
		{"the limit", now.Add(MaxHold), true, false, time.Time{}},
		{"past the limit", now.Add(MaxHold + time.Second), false, true, time.Time{}},
	} {
		opts, err := Hold(now, tc.at)
		want := tc.want
		if want.IsZero() {
			want = tc.at
		}
		switch {
		case tc.tooFar:
			if !errors.Is(err, ErrHoldTooFar) {
				t.Errorf("%s: err %v, want ErrHoldTooFar", tc.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.held && (len(opts) != 1 || opts[0].Type() != asynq.ProcessAtOpt || !opts[0].Value().(time.Time).Equal(want)):
			t.Errorf("%s: opts %v, want ProcessAt(%v)", tc.name, opts, want)
		case !tc.held && len(opts) != 0:
			t.Errorf("%s: opts %v, want none", tc.name, opts)
		}
	}
}

// A key is one task per endpoint whatever its lane or time: the same key
// on another lane, scheduled or not, single or in a batch, is a duplicate,
// and nothing else is queued.
func TestKeyIsOneTaskOnEveryLane(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, _, in := setup(t, s)
	ctx := context.Background()
	rc := record(1, "k-1")
	rc.Priority = tasks.PriorityLow
	res, err := p.Record(ctx, rc, asynq.ProcessAt(time.Now().Add(time.Hour)))
	if err != nil || res.Duplicate {
		t.Fatalf("first: %+v %v", res, err)
	}
	ti, err := in.GetTaskInfo("forms:low", "k-1")
	if err != nil || ti.State != asynq.TaskStateScheduled {
		t.Fatalf("first: %+v %v, want scheduled on forms:low", ti, err)
	}
	for _, lane := range tasks.Priorities {
		rc.Priority = lane
		if res, err := p.Record(ctx, rc); err != nil || !res.Duplicate || res.TaskID != "k-1" {
			t.Errorf("again on %s: %+v %v, want a duplicate of k-1", lane, res, err)
		}
		rc.Priority = lane
		task, err := p.PrepareRecord(rc)
		if err != nil {
			t.Fatal(err)
		}
		r, done, err := p.EnqueueBatch(ctx, []Item{{Task: task, Endpoint: "forms", Key: "k-1"}})
		if err != nil || !done[0] || !r[0].Duplicate {
			t.Errorf("batch on %s: %+v %v %v, want a duplicate", lane, r, done, err)
		}
	}
	for _, q := range tasks.Queues("forms") {
		qi, err := in.GetQueueInfo(q)
		want := 0
		if q == "forms:low" {
			want = 1
		}
		if err == nil && qi.Size != want {
			t.Errorf("%s holds %d tasks, want %d", q, qi.Size, want)
		}
	}
	// The same key on another endpoint is another task.
	other := record(1, "k-1")
	other.Endpoint, other.Table = "gjy", "/api/records"
	if res, err := p.Record(ctx, other); err != nil || res.Duplicate {
		t.Fatalf("same key on gjy: %+v %v, want a new task", res, err)
	}
}
