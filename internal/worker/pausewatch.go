package worker

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/ratelimit"
)

// pauseWatchEvery is how often the watcher looks at the endpoints that are
// not paused: a pause (set by any process of the fleet) is logged within
// about this long of its start. The end of a pause is looked for when it
// is due, so "endpoint resumed" comes within pauseWatchSlack of it.
//
// An endpoint without a server in this process (idle, docs/idle.md) is
// looked at less often when there are many: within pauseIdleBudget
// commands/s, so at most every 10 s with 1,000 endpoints, every second
// up to 100.
const (
	pauseWatchEvery = time.Second
	pauseWatchSlack = 20 * time.Millisecond
	pauseWatchCall  = 2 * time.Second // bound of one Redis call
	pauseIdleBudget = 100             // Redis commands/s for idle endpoints
)

// pauseWatch logs when an endpoint's pause (ratelimit Bucket.Pause, kept
// in Redis for the whole fleet) starts, is extended and ends. The handler
// that pauses logs why at error level; this says it from the shared state,
// for pauses set by other workers too, and is the only one to say when
// calls flow again. Both ends are logged at warn, so that a log kept at
// --log-level warn shows the pair.
//
// It also sets vendorq_endpoint_paused from what it sees: the handler sets
// it only when a task meets the pause, so without the watcher a worker
// that started while the fleet was paused (a restart mid-pause, an idle
// endpoint whose tasks wait in retry) would say 0 for the whole pause.
type pauseWatch struct {
	log     zerolog.Logger
	gauge   func(name string, paused bool) // metrics.Metrics.SetPaused
	buckets map[string]*ratelimit.Bucket
	order   []string
	every   time.Duration
	idle    time.Duration          // between looks at an endpoint without a server here
	serving func(name string) bool // its server runs in this process

	cancel context.CancelFunc
	done   chan struct{}
}

// epPause is what the watcher last saw of one endpoint.
type epPause struct {
	paused bool
	since  time.Time // when the watcher saw it start
	until  time.Time
}

// startPauseWatch starts the watcher of w's endpoints; stop (idempotent)
// ends it and waits for it.
func (w *Worker) startPauseWatch() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pauseWatch{
		log: w.log, gauge: w.Metrics.SetPaused, buckets: w.buckets, order: w.order, every: pauseWatchEvery,
		idle:    sweepEvery(len(w.order), 1, pauseIdleBudget, pauseWatchEvery),
		serving: w.idle.isUp, cancel: cancel, done: make(chan struct{}),
	}
	go p.run(ctx)
	var once sync.Once
	return func() {
		once.Do(func() {
			p.cancel()
			<-p.done
		})
	}
}

func (p *pauseWatch) run(ctx context.Context) {
	defer close(p.done)
	state := make(map[string]*epPause, len(p.order))
	for _, name := range p.order {
		state[name] = &epPause{}
	}
	looked := make(map[string]time.Time, len(p.order))
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := p.every
		now := time.Now()
		for _, name := range p.order {
			if !state[name].paused && !p.serving(name) && now.Sub(looked[name]) < p.idle {
				continue
			}
			looked[name] = now
			if d, ok := p.check(ctx, name, state[name]); ok && d < next {
				next = d
			}
		}
		t.Reset(next)
	}
}

// check looks at one endpoint, logs a change and says when to look again
// (false: no opinion).
func (p *pauseWatch) check(ctx context.Context, name string, st *epPause) (time.Duration, bool) {
	cctx, cancel := context.WithTimeout(ctx, pauseWatchCall)
	left, err := p.buckets[name].Paused(cctx)
	cancel()
	if err != nil {
		// Redis down: the state is unknown, keep the last one (Redis
		// trouble is logged where calls fail).
		return 0, false
	}
	now := time.Now()
	if left > 0 {
		p.gauge(name, true) // again at every look: the handler's own timer may have set 0 before an extension
	}
	switch {
	case left > 0 && !st.paused:
		st.paused, st.since, st.until = true, now, now.Add(left)
		p.log.Warn().Str("endpoint", name).Time("until", st.until).Int64("left_ms", left.Milliseconds()).
			Msg("endpoint paused: no calls until it ends (fleet-wide)")
	case left > 0 && now.Add(left).Sub(st.until) > time.Second:
		st.until = now.Add(left)
		p.log.Warn().Str("endpoint", name).Time("until", st.until).Int64("left_ms", left.Milliseconds()).
			Msg("endpoint pause extended")
	case left <= 0 && st.paused:
		p.log.Warn().Str("endpoint", name).Int64("paused_ms", now.Sub(st.since).Milliseconds()).
			Msg("endpoint resumed: calls flow again")
		p.gauge(name, false)
		*st = epPause{}
	}
	if left > 0 {
		return left + pauseWatchSlack, true
	}
	return 0, false
}
