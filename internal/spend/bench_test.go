package spend_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/spend"
)

// BenchmarkTake: what the check costs per phone on an endpoint with
// phone_limits and daily_budget — one EVALSHA round trip to a loopback
// redis-server touching four keys (README "Configuration").
func BenchmarkTake(b *testing.B) {
	rdb := srv.Client(b, srv.FreshDB(b))
	c := spend.New(rdb, "sms", spend.Limits{PerMinute: 1, PerHour: 5, PerDay: 10, DailyBudget: 1 << 30}, time.Now)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := strconv.Itoa(13000000000 + i)
		if r, err := c.Take(ctx, p, p); err != nil || r.Verdict != spend.Allowed {
			b.Fatal(r, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/phone")
}

// BenchmarkPing is one bare round trip to the same server, for scale.
func BenchmarkPing(b *testing.B) {
	rdb := srv.Client(b, srv.FreshDB(b))
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := rdb.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
