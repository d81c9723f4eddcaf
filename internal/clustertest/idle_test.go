package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/tasks"
)

// Idle endpoints on Redis Cluster (docs/idle.md): the wake stream (a key
// of its own slot) read with XREAD BLOCK through the cluster client starts
// an idle endpoint's server, and the sweep's multi-key EXISTS over one
// lane's keys (one slot: the {queue} tag) finds a task enqueued with a
// plain asynq client.
func TestClusterIdleWakeAndSweep(t *testing.T) {
	c := StartCluster(t, 3)
	s := newStack(t, c.URL())
	ctx := context.Background()
	accepted := func(want int64) {
		t.Helper()
		itest.Eventually(t, 20*time.Second, func() (bool, string) {
			n := s.accepted(vendorsim.TargetDhgjcloud)
			return n == want, fmt.Sprintf("dhgjcloud accepted %d, want %d", n, want)
		})
	}

	// The sweep paced to once an hour after the first: once gjy's server
	// has gone idle, only a wake can start it again.
	w := s.startWorkerWith(worker.Options{SweepMin: time.Hour, IdleGrace: 600 * time.Millisecond})
	record := func(via string) {
		t.Helper()
		if _, err := s.producer.Record(ctx, tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"via":"` + via + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	record("first")
	accepted(1)
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		r := w.Running()
		return len(r) == 0, fmt.Sprintf("still running: %v", r)
	})
	record("wake")
	accepted(2)
	w.Shutdown()

	// Default pace: a plain asynq enqueue (no wake) is found by the sweep.
	s.startWorkerWith(worker.Options{})
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(`{"via":"sweep"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Enqueue(task, asynq.Queue(tasks.Queue("gjy", tasks.PriorityHigh))); err != nil {
		t.Fatal(err)
	}
	accepted(3)
}
