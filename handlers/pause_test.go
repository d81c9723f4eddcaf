package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// value reads a gauge or counter.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// caihcom 8201 ("system busy, wait at least 10 minutes"): the endpoint is
// paused like a quota answer, and says so, while the answer still counts as
// throttled and not as a failure (max_retry 0 would dead-letter a failure).
func TestVendorAdvisedWaitPausesEndpoint(t *testing.T) {
	busy := &vendorclient.Error{Vendor: "caihcom", Class: vendorclient.ClassThrottled, Code: "8201", Delay: 10 * time.Minute}
	v := &script{steps: []error{busy}}
	r := start(t, v, 0, 30*time.Second)
	r.enqueue(t, "b1")
	ctx := context.Background()
	id := tasks.TaskID("b1")
	var info *asynq.TaskInfo
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		info, err = r.in.GetTaskInfo("forms", id)
		return err == nil && info.State == asynq.TaskStateRetry, "task not handed back"
	})
	if info.Retried != 0 || time.Until(info.NextProcessAt) < 9*time.Minute {
		t.Fatalf("handed back as a failure or too soon: retried %d, next in %v", info.Retried, time.Until(info.NextProcessAt))
	}
	if d, err := r.bucket.Paused(ctx); err != nil || d < 9*time.Minute {
		t.Fatalf("endpoint paused for %v (%v), want about 10 minutes", d, err)
	}
	if reason, err := r.rdb.Get(ctx, keys.Pause("forms")).Result(); err != nil || !strings.Contains(reason, "8201") {
		t.Fatalf("pause reason %q (%v) does not name the code", reason, err)
	}
	if p := value(t, r.metrics.Paused.WithLabelValues("forms")); p != 1 {
		t.Fatalf("%s = %v, want 1", "vendorq_endpoint_paused", p)
	}
	if n := value(t, r.metrics.Throttled.WithLabelValues("forms")); n != 1 || v.Calls() != 1 || r.dlqCount(t) != 0 {
		t.Fatalf("throttled %v (want 1), calls %d (want 1), dead letters %d (want 0)", n, v.Calls(), r.dlqCount(t))
	}
}

// vendorq_endpoint_paused goes back to 0 when the pause ends, even when no
// task comes by to notice (here the only task is deleted while it waits).
func TestPausedGaugeClearsWhenPauseEnds(t *testing.T) {
	v := &script{steps: []error{quota}}
	r := start(t, v, 0, 30*time.Second) // quota_pause 2s
	r.enqueue(t, "q1")
	paused := r.metrics.Paused.WithLabelValues("forms")
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		info, err := r.in.GetTaskInfo("forms", tasks.TaskID("q1"))
		return err == nil && info.State == asynq.TaskStateRetry, "task not back in the queue after its quota answer"
	})
	if err := r.in.DeleteTask("forms", tasks.TaskID("q1")); err != nil {
		t.Fatal(err)
	}
	if p := value(t, paused); p != 1 {
		t.Fatalf("paused gauge %v during the pause, want 1", p)
	}
	itest.Eventually(t, 10*time.Second, func() (bool, string) {
		return value(t, paused) == 0, "paused gauge still 1 after the 2s pause"
	})
	if d, _ := r.bucket.Paused(context.Background()); d > 0 {
		t.Fatalf("gauge cleared while the endpoint is still paused for %v", d)
	}
	if v.Calls() != 1 {
		t.Fatalf("calls %d, want 1", v.Calls())
	}
}
