package handlers_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// BenchmarkSMSSpendCheck: 300 one-phone SMS tasks through asynq, the
// handler and the simulator over loopback, on an endpoint without spend
// bounds and on one with phone_limits and daily_budget (one more Redis round
// trip per phone, TestSpendRoundTrips). Reports both throughputs and their
// ratio (1.0 = the check costs nothing visible).
func BenchmarkSMSSpendCheck(b *testing.B) {
	const n = 300
	run := func(limits handlers.PhoneLimits, budget int) time.Duration {
		r := startSMS(b, limits, budget, nil, vendorsim.DefaultConfig())
		start := time.Now()
		for i := 0; i < n; i++ {
			r.send(b, fmt.Sprint("k", i), phoneN(i))
		}
		itest.Eventually(b, 2*time.Minute, func() (bool, string) {
			ok, msg := r.drained()
			return ok && r.total() == n, msg
		})
		return time.Since(start)
	}
	for i := 0; i < b.N; i++ {
		off := run(handlers.PhoneLimits{}, 0)
		on := run(handlers.PhoneLimits{PerMinute: 1, PerHour: 5, PerDay: 10}, 1<<20)
		b.ReportMetric(n/off.Seconds(), "off_tasks/s")
		b.ReportMetric(n/on.Seconds(), "on_tasks/s")
		b.ReportMetric(off.Seconds()/on.Seconds(), "on/off")
	}
}
