package main_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// BenchmarkLanes (BENCHMARKS.md "Lanes"): three worker processes on one
// 5/s baibaoyun endpoint with 10,000 low tasks waiting; 50 high tasks are
// enqueued one by one at random moments (0–1 s apart, fixed seed). Reports
// the p50 and p99 of enqueue → vendor arrival of the high tasks, in seconds
// and as a multiple of the bucket's interval (1/rate = 200 ms; goal: p99 ≤
// 1 s + 1 interval = 6 intervals), and the utilisation of all lanes
// together (calls/s over the configured 5/s, from the first high enqueue
// to the last high arrival; the baseline is the vendor's documented rate).
func BenchmarkLanes(b *testing.B) {
	const (
		rate  = 5.0
		lows  = 10000
		highs = 50
	)
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; i < b.N; i++ {
		r, ent, cl := newLaneRig(b, map[string]itest.Endpoint{"forms": {Rate: rate, Concurrency: 10}})
		enqueueLow(b, cl, lows)
		for p := 0; p < 3; p++ {
			r.worker(b, fmt.Sprintf("w%d", p))
		}
		itest.Eventually(b, time.Minute, func() (bool, string) {
			st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
			return st.Accepted >= 15, fmt.Sprintf("%d low calls so far", st.Accepted)
		})
		rnd := rand.New(rand.NewPCG(11, 50))
		enq := make([]time.Time, highs)
		for h := range enq {
			time.Sleep(time.Duration(rnd.Float64() * float64(time.Second)))
			enq[h] = enqueueLane(b, cl, fmt.Sprintf("high%d", h), tasks.PriorityHigh)
		}
		var lat []time.Duration
		var last time.Time
		itest.Eventually(b, time.Minute, func() (bool, string) {
			lat, last = lat[:0], time.Time{}
			for h, at := range enq {
				if a, ok := ent.at(fmt.Sprintf("high%d", h)); ok {
					lat = append(lat, a.Sub(at))
					if a.After(last) {
						last = a
					}
				}
			}
			return len(lat) == highs, fmt.Sprintf("%d of %d high tasks at the vendor", len(lat), highs)
		})
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 := lat[rank(0.50, highs)], lat[rank(0.99, highs)]
		st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
		b.ReportMetric(p50.Seconds(), "high_p50_s")
		b.ReportMetric(p99.Seconds(), "high_p99_s")
		b.ReportMetric(float64(p50)/float64(interval), "high_p50_intervals")
		b.ReportMetric(float64(p99)/float64(interval), "high_p99_intervals")
		b.ReportMetric(r.arrived.utilisation(enq[0], last, rate), "utilisation_all_lanes")
		b.ReportMetric(float64(st.Codes["4004"])/float64(st.Calls), "throttled_share")
		b.ReportMetric(float64(st.MaxInWindow), "max_calls_in_1s")
	}
}

// rank is the nearest-rank index of quantile q among n sorted samples.
func rank(q float64, n int) int { return max(int(math.Ceil(q*float64(n)))-1, 0) }

// utilisation is the calls that arrived between from and to (the first
// and last of them bound the span) per second, over rate.
func (a *arrivals) utilisation(from, to time.Time, rate float64) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var in []time.Time
	for _, t := range a.at {
		if !t.Before(from) && !t.After(to) {
			in = append(in, t)
		}
	}
	if len(in) < 2 {
		return 0
	}
	sort.Slice(in, func(i, j int) bool { return in[i].Before(in[j]) })
	return float64(len(in)-1) / in[len(in)-1].Sub(in[0]).Seconds() / rate
}
