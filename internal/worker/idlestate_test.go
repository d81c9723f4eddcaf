package worker

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStep(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := idleRules{grace: 5 * time.Second, lead: time.Second}
	stopped := epState{}
	running := epState{phase: phaseRunning, activeAt: t0.Add(-10 * time.Second)}
	fresh := epState{phase: phaseRunning, activeAt: t0.Add(-time.Second)}
	stopping := epState{phase: phaseStopping}
	later := t0.Add(time.Minute)
	for _, tc := range []struct {
		name string
		s    epState
		ev   event
		want epState
		act  action
	}{
		{"wake starts a stopped server", stopped, event{kind: evWake}, epState{phase: phaseRunning, activeAt: t0}, actStart},
		{"wake due within the lead starts it", stopped, event{kind: evWake, at: t0.Add(500 * time.Millisecond)}, epState{phase: phaseRunning, activeAt: t0}, actStart},
		{"wake for later sets the timer only", stopped, event{kind: evWake, at: later}, epState{dueAt: later}, actNone},
		{"a later wake keeps the earlier timer", epState{dueAt: later}, event{kind: evWake, at: t0.Add(time.Hour)}, epState{dueAt: later}, actNone},
		{"an earlier wake moves the timer", epState{dueAt: t0.Add(time.Hour)}, event{kind: evWake, at: later}, epState{dueAt: later}, actNone},
		{"wake keeps a running server", running, event{kind: evWake}, epState{phase: phaseRunning, activeAt: t0}, actNone},
		{"wake while stopping restarts after", stopping, event{kind: evWake}, epState{phase: phaseStopping, restart: true}, actNone},
		{"due starts and clears the timer", epState{dueAt: t0}, event{kind: evDue}, epState{phase: phaseRunning, activeAt: t0}, actStart},
		{"work seen starts", stopped, event{kind: evObserve, work: true}, epState{phase: phaseRunning, activeAt: t0}, actStart},
		{"nothing seen leaves it stopped", stopped, event{kind: evObserve}, stopped, actNone},
		{"next task remembered", stopped, event{kind: evObserve, next: later}, epState{dueAt: later}, actNone},
		{"next task within the lead is work", stopped, event{kind: evObserve, next: t0.Add(time.Second)}, epState{phase: phaseRunning, activeAt: t0}, actStart},
		{"idle past the grace stops", running, event{kind: evObserve}, epState{phase: phaseStopping, activeAt: running.activeAt}, actStop},
		{"idle past the grace stops, remembering the next task", running, event{kind: evObserve, next: later}, epState{phase: phaseStopping, activeAt: running.activeAt, dueAt: later}, actStop},
		{"idle within the grace keeps", fresh, event{kind: evObserve}, fresh, actNone},
		{"a handler running keeps", running, event{kind: evObserve, inflight: 1}, epState{phase: phaseRunning, activeAt: t0}, actNone},
		{"work keeps", running, event{kind: evObserve, work: true}, epState{phase: phaseRunning, activeAt: t0}, actNone},
		{"stopped", stopping, event{kind: evStopped}, stopped, actNone},
		{"stopped with work waiting restarts", epState{phase: phaseStopping, restart: true}, event{kind: evStopped}, epState{phase: phaseRunning, activeAt: t0}, actStart},
	} {
		got, act := step(tc.s, tc.ev, t0, r)
		if got != tc.want || act != tc.act {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, act, tc.want, tc.act)
		}
	}
}

func TestDueNow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := idleRules{grace: 5 * time.Second, lead: time.Second}
	for _, tc := range []struct {
		due  time.Time
		want bool
	}{
		{time.Time{}, false},
		{t0.Add(2 * time.Second), false},
		{t0.Add(time.Second), true},
		{t0.Add(-time.Hour), true},
	} {
		if got := (epState{dueAt: tc.due}).dueNow(t0, r); got != tc.want {
			t.Errorf("due %v: %v, want %v", tc.due, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	sec := float64(now.Unix())
	z := func(score float64) []redis.Z { return []redis.Z{{Score: score, Member: "id"}} }
	for _, tc := range []struct {
		name  string
		lanes []laneRaw
		work  bool
		next  time.Time
	}{
		{"empty", nil, false, time.Time{}},
		{"pending", []laneRaw{{pending: 1}}, true, time.Time{}},
		{"pending on a paused lane", []laneRaw{{pending: 3, paused: true}}, false, time.Time{}},
		{"pending on a paused and a running lane", []laneRaw{{pending: 3, paused: true}, {pending: 1}}, true, time.Time{}},
		{"scheduled due", []laneRaw{{scheduled: z(sec)}}, true, time.Time{}},
		{"scheduled later", []laneRaw{{scheduled: z(sec + 60)}}, false, now.Add(time.Minute)},
		{"retry later, scheduled sooner on another lane", []laneRaw{{retry: z(sec + 60)}, {scheduled: z(sec + 30)}}, false, now.Add(30 * time.Second)},
		{"lease expired", []laneRaw{{lease: z(sec - 1)}}, true, time.Time{}},
		{"lease held", []laneRaw{{lease: z(sec + 20)}}, false, time.Time{}},
	} {
		work, next := judge(tc.lanes, now)
		if work != tc.work || !next.Equal(tc.next) {
			t.Errorf("%s: work %v next %v, want %v %v", tc.name, work, next, tc.work, tc.next)
		}
	}
}

func TestSweepEvery(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{1, 250 * time.Millisecond},
		{4, 250 * time.Millisecond},
		{100, 1200 * time.Millisecond},
		{1000, 12 * time.Second},
	} {
		if got := sweepEvery(tc.n, 3, 250, 250*time.Millisecond); got != tc.want {
			t.Errorf("%d endpoints: %v, want %v", tc.n, got, tc.want)
		}
	}
}
