package handlers

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
)

// vendorq_sms_sent_today drops to 0 at 00:00 CST even when no message comes
// by, and a later count moves the reset to the next midnight.
func TestDayGaugeDropsAtMidnight(t *testing.T) {
	var v atomic.Int64
	g := &dayGauge{set: func(n int) { v.Store(int64(n)) }}
	g.show("20261201", 5, time.Hour)
	g.show("20261201", 7, 50*time.Millisecond) // the later check's midnight wins
	if v.Load() != 7 {
		t.Fatalf("gauge %d, want 7", v.Load())
	}
	itest.Eventually(t, 5*time.Second, func() (bool, string) { return v.Load() == 0, "gauge not back to 0 after midnight" })
}

// Concurrent handlers report their counts out of order: within a day the
// gauge never goes back; a new day starts from its own count.
func TestDayGaugeOnlyRisesWithinADay(t *testing.T) {
	var v atomic.Int64
	g := &dayGauge{set: func(n int) { v.Store(int64(n)) }}
	for _, n := range []int{1, 3, 2} {
		g.show("20261201", n, time.Hour)
	}
	if v.Load() != 3 {
		t.Fatalf("gauge %d after 1, 3, 2 on one day, want 3", v.Load())
	}
	g.show("20261202", 1, time.Hour)
	if v.Load() != 1 {
		t.Fatalf("gauge %d on the new day's first count, want 1", v.Load())
	}
}
