package producer

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

func TestNeedWake(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	every := 500 * time.Millisecond
	last := wakeMark{sent: t0, at: t0}
	for _, tc := range []struct {
		name string
		last wakeMark
		seen bool
		now  time.Time
		at   time.Time
		want bool
	}{
		{"first wake", wakeMark{}, false, t0, t0, true},
		{"again at once", last, true, t0.Add(100 * time.Millisecond), t0.Add(100 * time.Millisecond), false},
		{"after the debounce", last, true, t0.Add(every), t0.Add(every), true},
		{"a later delayed task within the debounce", last, true, t0.Add(time.Millisecond), t0.Add(time.Hour), false},
		{"an earlier task than the last delayed one", wakeMark{sent: t0, at: t0.Add(time.Hour)}, true, t0.Add(time.Millisecond), t0.Add(time.Millisecond), true},
		{"clock went back", last, true, t0.Add(-time.Second), t0.Add(-time.Second), true},
	} {
		if got := needWake(tc.last, tc.seen, tc.now, tc.at, every); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A burst of enqueues on one endpoint writes one wake; another endpoint,
// a delayed task and a DLQ-style enqueue through WakingEnqueuer write
// their own, with the fields the worker reads.
func TestWakesWritten(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, rdb, _ := setup(t, s)
	frozen := time.Now()
	p.wake.now = func() time.Time { return frozen } // the burst within WakeDebounce, however slow the machine
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		if _, err := p.Record(ctx, record(i, "")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := rdb.XLen(ctx, keys.Wake).Result()
	if err != nil || n != 1 {
		t.Fatalf("50 enqueues wrote %d wakes (%v), want 1", n, err)
	}
	msgs, err := rdb.XRange(ctx, keys.Wake, "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].Values["ep"] != "forms" || msgs[0].Values["at"] == "" {
		t.Fatalf("wake %+v %v", msgs, err)
	}

	// A delayed task on another endpoint (here through the DLQ wrapper).
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "gjy", Table: "/api/x", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	q := NewWaker(rdb).WakingEnqueuer(asynq.NewClientFromRedisClient(rdb))
	if _, err := q.EnqueueContext(ctx, task, asynq.Queue(tasks.Queue("gjy", tasks.PriorityHigh)), asynq.ProcessAt(at)); err != nil {
		t.Fatal(err)
	}
	msgs, err = rdb.XRange(ctx, keys.Wake, "-", "+").Result()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("wakes %+v %v, want 2", msgs, err)
	}
	if v := msgs[1].Values; v["ep"] != "gjy" || v["at"] != formatMS(at) {
		t.Fatalf("delayed wake %+v, want ep gjy at %s", v, formatMS(at))
	}
}

func formatMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// An import chunk (EnqueueBatch, here 500 rows on two endpoints) writes
// one wake per endpoint, not one per row.
func TestBatchWakesOncePerEndpoint(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, rdb, _ := setup(t, s)
	frozen := time.Now()
	p.wake.now = func() time.Time { return frozen } // one chunk within WakeDebounce, however slow the machine
	ctx := context.Background()
	var items []Item
	for i := 0; i < 500; i++ {
		ep, table := "forms", "a/b"
		if i%2 == 1 {
			ep, table = "gjy", "/api/x"
		}
		task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: ep, Table: table, Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{Task: task, Endpoint: ep})
	}
	if _, _, err := p.EnqueueBatch(ctx, items); err != nil {
		t.Fatal(err)
	}
	msgs, err := rdb.XRange(ctx, keys.Wake, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	eps := map[any]int{}
	for _, m := range msgs {
		eps[m.Values["ep"]]++
	}
	if len(msgs) != 2 || eps["forms"] != 1 || eps["gjy"] != 1 {
		t.Fatalf("500 rows wrote wakes %v, want one for forms and one for gjy", eps)
	}
}
