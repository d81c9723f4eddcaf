package main_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// BenchmarkSharedRate: three worker processes share a 5/s baibaoyun
// endpoint with a 300-task backlog. Reports utilisation (accepted calls per
// second over the configured 5/s: the baseline is the vendor's documented
// limit), the throttled share of calls and the busiest 1-second window.
func BenchmarkSharedRate(b *testing.B) {
	const n = 300
	for i := 0; i < b.N; i++ {
		r := newRig(b, vendorsim.DefaultConfig(), map[string]itest.Endpoint{"forms": {Rate: 5, Concurrency: 10}})
		r.enqueue(b, "forms", "app/entry", "f", n)
		for p := 0; p < 3; p++ {
			r.worker(b, fmt.Sprintf("w%d", p))
		}
		itest.Eventually(b, 5*time.Minute, func() (bool, string) {
			st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
			return len(st.ByKey) == n, fmt.Sprintf("%d of %d", len(st.ByKey), n)
		})
		st := r.sim.Stats()[vendorsim.TargetBaibaoyun]
		span := st.LastAccepted.Sub(st.FirstAccepted).Seconds()
		b.ReportMetric(float64(st.Accepted-1)/span/5, "utilisation")
		b.ReportMetric(float64(st.Codes["4004"])/float64(st.Calls), "throttled_share")
		b.ReportMetric(float64(st.MaxInWindow), "max_calls_in_1s")
		b.ReportMetric(float64(st.Duplicates), "duplicates")
		b.ReportMetric(r.arrived.tightest(6).Seconds(), "tightest_6_arrivals_s")
	}
}
