package dashboards_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/ratelimit"
)

// buckets maps an endpoint to its real shared bucket.
type buckets map[string]*ratelimit.Bucket

func (b buckets) LanesWaiting(ctx context.Context, eps []string) ([][3]int64, error) {
	out := make([][3]int64, len(eps))
	for i, ep := range eps {
		bk := b[ep]
		if bk == nil {
			return nil, errors.New("unknown endpoint")
		}
		n, err := bk.Waiting(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// Handlers sleeping in the bucket for their slot are reported per lane:
// two low callers book the slots 2 s and 4 s ahead on a 0.5/s bucket, then
// a high caller takes over the first of them. (Margin: the test reads the
// gauges well within the 2 s before the first booked slot is used.)
func TestCollectorReportsHandlersWaitingInTheBucket(t *testing.T) {
	f := newFixture(t, nil)
	b := ratelimit.New(f.rdb, "forms", 0.5, 1, ratelimit.Tuning{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := b.Wait(ctx, ratelimit.LaneLow, 0); err != nil { // the slot now
		t.Fatal(err)
	}
	steps := []struct {
		lane ratelimit.Lane
		want [3]int64
	}{{ratelimit.LaneLow, [3]int64{0, 0, 1}}, {ratelimit.LaneLow, [3]int64{0, 0, 2}}, {ratelimit.LaneHigh, [3]int64{1, 0, 1}}}
	for _, s := range steps {
		go func() { _, _ = b.Wait(ctx, s.lane, 10*time.Second) }() // sleeps until its slot, or the test's end
		deadline := time.Now().Add(2 * time.Second)
		for {
			w, err := b.Waiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w == s.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after a %v caller: waiting %v, want %v", s.lane, w, s.want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(dashboards.NewCollector(f.store, f.rdb, []string{"forms"}).WithBuckets(buckets{"forms": b}))
	got := samples(t, reg)
	for k, v := range map[string]float64{
		"vendorq_lane_in_bucket{endpoint=forms,lane=high}":    1,
		"vendorq_lane_in_bucket{endpoint=forms,lane=default}": 0,
		"vendorq_lane_in_bucket{endpoint=forms,lane=low}":     1,
		"vendorq_redis_up{}": 1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
