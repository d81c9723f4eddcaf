package worker

import "time"

// The decisions of the idle watcher (idle.go, docs/idle.md), kept pure so
// that a table test covers them: step takes one endpoint's state and one
// event and says what to do; idle.go does it.

// phase of an endpoint's asynq server in this process.
type phase int

const (
	phaseStopped  phase = iota // no server
	phaseRunning               // a server serves the endpoint's lanes
	phaseStopping              // Shutdown called, not returned yet
)

// epState is what the watcher knows of one endpoint.
type epState struct {
	phase    phase
	restart  bool      // work came while stopping: start again once stopped
	activeAt time.Time // last sign of work: start, wake, a task handled, work seen in Redis
	dueAt    time.Time // earliest known future task (zero: none known)
}

// evKind is what happened.
type evKind int

const (
	evWake    evKind = iota // a producer's wake; at = the task's time
	evDue                   // dueAt (less the lead) has come
	evObserve               // a look at Redis: work, next; inflight = handlers running here
	evStopped               // the server's Shutdown returned
)

type event struct {
	kind     evKind
	at       time.Time // evWake: when the task is due (zero: now)
	work     bool      // evObserve: something to run now (pending, due, expired lease)
	next     time.Time // evObserve: earliest future scheduled/retry task (zero: none)
	inflight int64     // evObserve: handlers of this process still running
}

// action for idle.go.
type action int

const (
	actNone action = iota
	actStart
	actStop
)

// idleRules are the timing knobs of step.
type idleRules struct {
	grace time.Duration // an idle server is stopped only after this long without a sign of work
	lead  time.Duration // a server starts this long before a due task (asynq's forwarder runs once a DelayedTaskCheckInterval after start)
}

// step applies ev to s at now.
func step(s epState, ev event, now time.Time, r idleRules) (epState, action) {
	switch ev.kind {
	case evWake:
		if ev.at.After(now.Add(r.lead)) {
			s.dueAt = earliest(s.dueAt, ev.at)
			return s, actNone
		}
		return want(s, now)
	case evDue:
		s.dueAt = time.Time{}
		return want(s, now)
	case evObserve:
		if !ev.next.IsZero() {
			if ev.next.After(now.Add(r.lead)) {
				s.dueAt = earliest(s.dueAt, ev.next)
			} else {
				ev.work = true
			}
		}
		if ev.work || ev.inflight > 0 {
			return want(s, now)
		}
		if s.phase == phaseRunning && now.Sub(s.activeAt) >= r.grace {
			s.phase = phaseStopping
			return s, actStop
		}
		return s, actNone
	case evStopped:
		s.phase = phaseStopped
		if s.restart {
			s.restart = false
			s.phase, s.activeAt = phaseRunning, now
			return s, actStart
		}
		return s, actNone
	}
	return s, actNone
}

// want records work for the endpoint: start a stopped server, keep a
// running one, restart a stopping one once it has stopped.
func want(s epState, now time.Time) (epState, action) {
	switch s.phase {
	case phaseStopped:
		s.phase, s.activeAt = phaseRunning, now
		return s, actStart
	case phaseRunning:
		s.activeAt = now
	case phaseStopping:
		s.restart = true
	}
	return s, actNone
}

// dueNow reports whether s's known future task is close enough to start.
func (s epState) dueNow(now time.Time, r idleRules) bool {
	return !s.dueAt.IsZero() && !now.Before(s.dueAt.Add(-r.lead))
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// sweepEvery paces the sweep of the endpoints without a server: each
// costs cmdsPer commands, the sweep stays within budget commands/s, and
// never runs more often than min. More endpoints, longer between sweeps:
// the price of a fixed Redis cost (docs/idle.md).
func sweepEvery(endpoints, cmdsPer int, budget float64, min time.Duration) time.Duration {
	if budget <= 0 {
		return min
	}
	d := time.Duration(float64(endpoints*cmdsPer) / budget * float64(time.Second))
	if d < min {
		return min
	}
	return d
}
