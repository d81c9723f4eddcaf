package handlers

import (
	"sync"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
)

// gaugeLog records what a pauseGauge set.
type gaugeLog struct {
	mu   sync.Mutex
	sets []bool
}

func (l *gaugeLog) set(on bool) { l.mu.Lock(); l.sets = append(l.sets, on); l.mu.Unlock() }

func (l *gaugeLog) last() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.sets) == 0 {
		return false, 0
	}
	return l.sets[len(l.sets)-1], len(l.sets)
}

// The gauge goes back to 0 when the pause ends, with no call to notice it.
func TestPauseGaugeEndsWithThePause(t *testing.T) {
	var l gaugeLog
	g := newPauseGauge(l.set)
	g.pausedFor(20 * time.Millisecond)
	if on, _ := l.last(); !on {
		t.Fatal("not shown as paused")
	}
	itest.Eventually(t, 5*time.Second, func() (bool, string) {
		on, _ := l.last()
		return !on, "still shown as paused after a 20ms pause"
	})
}

// A longer pause, or a slot granted to a call that booked it before the
// pause began, does not end what is shown early.
func TestPauseGaugeKeepsTheLongestPause(t *testing.T) {
	var l gaugeLog
	g := newPauseGauge(l.set)
	g.pausedFor(time.Hour)
	g.pausedFor(time.Millisecond) // shorter: nothing changes
	g.notPaused()
	g.expire() // as if a timer set for an earlier end fired
	if on, n := l.last(); !on || n != 1 {
		t.Fatalf("last %v after %d sets, want paused after 1", on, n)
	}
	g.mu.Lock()
	g.until = time.Now() // the hour is over
	g.mu.Unlock()
	g.notPaused()
	if on, _ := l.last(); on {
		t.Fatal("a granted slot after the pause did not clear it")
	}
	g.timer.Stop()
}
