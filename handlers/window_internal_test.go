package handlers

import (
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/tasks"
)

func TestWindowDecision(t *testing.T) {
	day := &SendWindow{From: 8 * time.Hour, To: 21 * time.Hour, Lanes: []tasks.Priority{tasks.PriorityLow}}
	night := &SendWindow{From: 22 * time.Hour, To: 6 * time.Hour, Lanes: []tasks.Priority{tasks.PriorityLow, tasks.PriorityDefault}}
	cst := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, spend.CST) }
	utc := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name string
		now  time.Time
		w    *SendWindow
		lane tasks.Priority
		want time.Duration
	}{
		{"no window", cst(3, 0, 0), nil, tasks.PriorityLow, 0},
		{"inside", cst(12, 0, 0), day, tasks.PriorityLow, 0},
		{"at the opening", cst(8, 0, 0), day, tasks.PriorityLow, 0},
		{"one second before", cst(7, 59, 59), day, tasks.PriorityLow, time.Second},
		{"at the closing", cst(21, 0, 0), day, tasks.PriorityLow, 11 * time.Hour},
		{"night, before it", cst(3, 0, 0), day, tasks.PriorityLow, 5 * time.Hour},
		{"high is never held by a [low] window", cst(3, 0, 0), day, tasks.PriorityHigh, 0},
		{"default is not held by a [low] window", cst(3, 0, 0), day, "", 0},
		{"the host's zone does not matter (03:00 CST = 19:00 UTC)", utc(19, 0), day, tasks.PriorityLow, 5 * time.Hour},
		{"13:00 UTC = 21:00 CST: closed", utc(13, 0), day, tasks.PriorityLow, 11 * time.Hour},
		{"wraps: after midnight, inside", cst(1, 0, 0), night, tasks.PriorityLow, 0},
		{"wraps: before midnight, inside", cst(23, 0, 0), night, tasks.PriorityDefault, 0},
		{"wraps: the empty zero value lane is default", cst(12, 0, 0), night, "", 10 * time.Hour},
		{"wraps: at its closing", cst(6, 0, 0), night, tasks.PriorityLow, 16 * time.Hour},
		{"wraps: high untouched", cst(12, 0, 0), night, tasks.PriorityHigh, 0},
	}
	for _, c := range cases {
		if got := windowDecision(c.now, c.w, c.lane); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
