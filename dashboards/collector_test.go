package dashboards_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/dlq"
)

// samples gathers reg into "name{k=v,...}" -> value.
func samples(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			out[key(f.GetName(), m)] = m.GetGauge().GetValue()
		}
	}
	return out
}

func key(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func TestCollectorReadsQueuesAndDeadLetters(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	enq := func(opts ...asynq.Option) *asynq.TaskInfo {
		info, err := f.client.EnqueueContext(ctx, asynq.NewTask("record:create", []byte(`{}`)), append([]asynq.Option{asynq.Queue("forms")}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	enq()
	enq(asynq.Queue("forms:high")) // lanes (tasks.Queue): counted with the endpoint, and per lane
	enq(asynq.Queue("forms:low"))
	enq(asynq.Queue("forms:low"))
	enq(asynq.ProcessIn(time.Hour))
	archived := enq()
	insp := asynq.NewInspector(f.conn.Asynq)
	defer insp.Close()
	if err := insp.ArchiveTask("forms", archived.ID); err != nil {
		t.Fatal(err)
	}
	addDead(t, f.store, "sms", 2)
	addDead(t, f.store, "retired", 1) // an endpoint no longer configured

	reg := prometheus.NewRegistry()
	reg.MustRegister(dashboards.NewCollector(f.store, f.rdb, []string{"forms", "sms"}))
	got := samples(t, reg)
	want := map[string]float64{
		"vendorq_queue_size{endpoint=forms,state=pending}":   4,
		"vendorq_lane_pending{endpoint=forms,lane=high}":     1,
		"vendorq_lane_pending{endpoint=forms,lane=default}":  1,
		"vendorq_lane_pending{endpoint=forms,lane=low}":      2,
		"vendorq_queue_size{endpoint=forms,state=scheduled}": 1,
		"vendorq_queue_size{endpoint=forms,state=archived}":  1,
		"vendorq_queue_size{endpoint=forms,state=active}":    0,
		"vendorq_queue_size{endpoint=forms,state=retry}":     0,
		"vendorq_queue_size{endpoint=forms,state=completed}": 0,
		"vendorq_dead_letter_size{endpoint=sms}":             2,
		"vendorq_dead_letter_size{endpoint=forms}":           0,
		"vendorq_dead_letter_size{endpoint=retired}":         1,
		"vendorq_redis_up{}":                                 1,
	}
	// sms never had a task: its queue is reported, empty, in every state.
	for _, s := range dashboards.QueueStates {
		want[fmt.Sprintf("vendorq_queue_size{endpoint=sms,state=%s}", s)] = 0
	}
	// The oldest pending task's age per lane: some time for a lane with a
	// pending task (enqueued before the scrape), 0 for one without.
	for _, ep := range []string{"forms", "sms"} {
		for _, lane := range []string{"high", "default", "low"} {
			k := fmt.Sprintf("vendorq_lane_oldest_pending_seconds{endpoint=%s,lane=%s}", ep, lane)
			pending := want[fmt.Sprintf("vendorq_lane_pending{endpoint=%s,lane=%s}", ep, lane)] > 0
			if v, ok := got[k]; !ok || (pending != (v > 0)) || v > 60 {
				t.Errorf("%s = %v (present %v), pending %v", k, v, ok, pending)
			}
			delete(got, k)
			if ep == "sms" {
				want[fmt.Sprintf("vendorq_lane_pending{endpoint=sms,lane=%s}", lane)] = 0
			}
		}
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("collector reported %d series, want %d: %v", len(got), len(want), got)
	}
}

func TestCollectorWithRedisDownReportsItAndKeepsScraping(t *testing.T) {
	dead := deadRedis(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(dashboards.NewCollector(dlq.New(dead), dead, []string{"forms"}))
	got := samples(t, reg)
	if v, ok := got["vendorq_redis_up{}"]; !ok || v != 0 {
		t.Fatalf("vendorq_redis_up = %v (present %v), want 0; all: %v", v, ok, got)
	}
}
