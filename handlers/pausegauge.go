package handlers

import (
	"sync"
	"time"
)

// pauseGauge keeps this process's vendorq_endpoint_paused true to what it
// knows: 1 from the moment it pauses the endpoint or finds it paused, 0 when
// that pause is over. The end needs a timer of its own: while the endpoint
// is paused its tasks sit in the queue, so no call (and no slot request)
// would come by to notice that the pause has ended. The fleet-wide view is
// the max over processes (dashboards/grafana-dashboard.json).
type pauseGauge struct {
	set   func(paused bool)
	mu    sync.Mutex
	until time.Time   // end of the longest pause known
	timer *time.Timer // fires at until
}

func newPauseGauge(set func(bool)) *pauseGauge { return &pauseGauge{set: set} }

// pausedFor notes that the endpoint is paused for d from now.
func (g *pauseGauge) pausedFor(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until := time.Now().Add(d)
	if !until.After(g.until) {
		return // a longer pause is already shown
	}
	g.until = until
	g.set(true)
	rearm(&g.timer, d, g.expire)
}

// rearm makes *t run f after d, creating the timer the first time; the
// gauges use it for the moment their state ends (a pause, the CST day).
func rearm(t **time.Timer, d time.Duration, f func()) {
	if *t == nil {
		*t = time.AfterFunc(d, f)
		return
	}
	(*t).Reset(d)
}

// notPaused notes that a slot was granted: no pause is in force, unless one
// began after the grant (a concurrent task's quota answer), which its timer
// will end.
func (g *pauseGauge) notPaused() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Now().Before(g.until) {
		return
	}
	g.set(false)
}

func (g *pauseGauge) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if left := time.Until(g.until); left > 0 {
		g.timer.Reset(left) // extended since the timer was set
		return
	}
	g.set(false)
}
