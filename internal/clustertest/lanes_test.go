package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// On Redis Cluster a key's done marker and its task hash on each lane sit
// in four slots: the producer checks them one command each (dedupe.go),
// and a key queued on one lane is still a duplicate on the others.
func TestClusterKeyIsOneTaskOnEveryLane(t *testing.T) {
	c := StartCluster(t, 3)
	s := newStack(t, c.URL())
	ctx := context.Background()
	rc := tasks.RecordCreate{Endpoint: "forms", Table: "app1/entry1", Data: json.RawMessage(`{"n":1}`), Key: "lane-1", Priority: tasks.PriorityLow}
	opts, err := producer.Hold(time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.producer.Record(ctx, rc, opts...); err != nil || res.Duplicate {
		t.Fatalf("first: %+v %v", res, err)
	}
	for _, lane := range tasks.Priorities {
		rc.Priority = lane
		if res, err := s.producer.Record(ctx, rc); err != nil || !res.Duplicate {
			t.Errorf("again on %s: %+v %v, want a duplicate", lane, res, err)
		}
		task, err := s.producer.PrepareRecord(rc)
		if err != nil {
			t.Fatal(err)
		}
		r, done, err := s.producer.EnqueueBatch(ctx, []producer.Item{{Task: task, Endpoint: "forms", Key: rc.Key}})
		if err != nil || !done[0] || !r[0].Duplicate {
			t.Errorf("batch on %s: %+v %v %v, want a duplicate", lane, r, done, err)
		}
	}
	in := asynq.NewInspectorFromRedisClient(s.rdb)
	ti, err := in.GetTaskInfo("forms:low", "lane-1")
	if err != nil || ti.State != asynq.TaskStateScheduled {
		t.Fatalf("lane-1: %+v %v, want scheduled on forms:low", ti, err)
	}
	for _, q := range []string{"forms", "forms:high"} {
		if _, err := in.GetTaskInfo(q, "lane-1"); err == nil {
			t.Errorf("a second lane-1 on %s", q)
		}
	}
}

// The import's bulk producer on Redis Cluster: the autopipeliner sends
// each enqueue script to the node of its queue's slot, every task goes in
// once, and a second run of the same rows finds every one a duplicate.
func TestClusterBulkEnqueueEveryTaskOnce(t *testing.T) {
	c := StartCluster(t, 3)
	s := newStack(t, c.URL())
	ctx := context.Background()
	bulk, release := s.producer.Bulk()
	t.Cleanup(release)
	if bulk == s.producer {
		t.Fatal("a cluster client should give a bulk producer of its own")
	}
	var items []producer.Item
	for i := range 600 {
		ep, lane := "forms", tasks.PriorityLow
		if i%2 == 1 {
			ep, lane = "tables", tasks.PriorityDefault // another queue, another slot
		}
		rc := tasks.RecordCreate{Endpoint: ep, Table: "app1/entry1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Key: fmt.Sprintf("bulk-%d", i), Priority: lane}
		if ep == "tables" {
			rc.Table = "model_a"
		}
		task, err := s.producer.PrepareRecord(rc)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, producer.Item{Task: task, Endpoint: ep, Key: rc.Key})
	}
	for run, wantDup := range []bool{false, true} {
		res, done, err := bulk.EnqueueBatch(ctx, items)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for i := range items {
			if !done[i] || res[i].Duplicate != wantDup {
				t.Fatalf("run %d item %d: %+v done=%v, want duplicate=%v", run, i, res[i], done[i], wantDup)
			}
		}
	}
	in := asynq.NewInspectorFromRedisClient(s.rdb)
	for q, want := range map[string]int{"forms:low": 300, "tables": 300} {
		qi, err := in.GetQueueInfo(q)
		if err != nil || qi.Pending != want {
			t.Errorf("%s: %+v %v, want %d pending", q, qi, err, want)
		}
	}
}
