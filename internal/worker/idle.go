package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// The idle watcher (docs/idle.md): one per worker process. An endpoint's
// asynq server runs only while the endpoint has work; an idle asynq
// server costs Redis about 20 commands/s (polling three lanes, forwarder,
// heartbeats), so 1,000 idle endpoints would cost ~21,000/s. The watcher
// starts a server on a producer's wake (wakeread.go), when a known
// delayed task comes due, or when its sweep finds work nobody announced
// (a plain asynq client, asynqmon's "run now", a crashed worker's lease);
// it stops a server that has had nothing to do for the idle grace,
// remembering its next scheduled or retry task. The decisions are
// idlestate.go's step; this file does them.

// Defaults of the idle knobs (Options).
const (
	defaultIdleGrace   = 5 * time.Second
	defaultSweepBudget = 250                    // Redis commands/s the sweep may spend
	defaultSweepMin    = 250 * time.Millisecond // never sweep more often (a few endpoints: plain asynq enqueues seen this fast)
	idleTick           = 250 * time.Millisecond // due timers and idle checks of running servers
	idleCall           = 5 * time.Second        // bound of one probe
)

// epRun is one endpoint in the watcher.
type epRun struct {
	name     string
	st       epState
	srv      *asynq.Server
	up       atomic.Bool  // srv != nil, for readers outside the loop
	inflight atomic.Int64 // handlers running (counting handler)
	lastBusy atomic.Int64 // UnixNano when a handler last returned
}

// counting wraps an endpoint's mux so that the watcher knows its server
// is busy without asking Redis.
type counting struct {
	h asynq.Handler
	r *epRun
}

func (c counting) ProcessTask(ctx context.Context, t *asynq.Task) error {
	c.r.inflight.Add(1)
	defer func() {
		c.r.lastBusy.Store(time.Now().UnixNano())
		c.r.inflight.Add(-1)
	}()
	return c.h.ProcessTask(ctx, t)
}

// watcher owns the endpoints' servers while the worker runs.
type watcher struct {
	w        *Worker
	rules    idleRules
	budget   float64
	sweepMin time.Duration
	always   bool // every server on all the time (Options.AlwaysOn)
	eps      map[string]*epRun
	order    []string

	wakes   chan wake
	stopped chan string
	cancel  context.CancelFunc
	reader  redis.UniversalClient // the wake reader's own client
	done    chan struct{}
	readerD chan struct{}
	stops   sync.WaitGroup // servers being shut down
}

func newWatcher(w *Worker, o Options) *watcher {
	wa := &watcher{
		w: w, rules: idleRules{grace: o.IdleGrace, lead: time.Second}, budget: o.SweepBudget, sweepMin: o.SweepMin,
		always: o.AlwaysOn, eps: map[string]*epRun{}, order: w.order,
		wakes: make(chan wake, wakeBatch), stopped: make(chan string, len(w.order)+1),
		done: make(chan struct{}), readerD: make(chan struct{}),
	}
	for _, name := range w.order {
		wa.eps[name] = &epRun{name: name}
	}
	return wa
}

// start runs the watcher: with AlwaysOn every server now (an error
// stops those started), otherwise the loop and the wake reader.
func (wa *watcher) start() error {
	if wa.always {
		for _, name := range wa.order {
			if err := wa.startServer(wa.eps[name]); err != nil {
				wa.shutdownAll()
				return err
			}
			wa.eps[name].st.phase = phaseRunning
		}
		close(wa.done)
		close(wa.readerD)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	wa.cancel = cancel
	wa.reader = wa.w.conn.NewClient()
	go func() {
		defer close(wa.readerD)
		readWakes(ctx, wa.reader, wa.wakes, wa.w.log)
	}()
	go wa.run(ctx)
	return nil
}

// stop ends the loop and the reader, then drains every server in parallel.
func (wa *watcher) stop() {
	if wa.cancel != nil {
		wa.cancel()
		_ = wa.reader.Close() // interrupts a blocked XREAD
	}
	<-wa.readerD
	<-wa.done
	wa.stops.Wait()
	wa.shutdownAll()
}

func (wa *watcher) shutdownAll() {
	var wg sync.WaitGroup
	for _, r := range wa.eps {
		if r.srv == nil {
			continue
		}
		wg.Add(1)
		go func(s *asynq.Server) { defer wg.Done(); s.Shutdown() }(r.srv)
		r.srv = nil
		r.up.Store(false)
		wa.w.Metrics.ServerRunning.WithLabelValues(r.name).Set(0)
	}
	wg.Wait()
}

func (wa *watcher) startServer(r *epRun) error {
	srv := asynq.NewServer(wa.w.conn.Asynq, wa.w.srvCfg[r.name])
	if err := srv.Start(counting{wa.w.muxes[r.name], r}); err != nil {
		return err
	}
	r.srv = srv
	r.up.Store(true)
	wa.w.Metrics.ServerRunning.WithLabelValues(r.name).Set(1)
	ep := wa.w.cfg.Endpoints[r.name]
	wa.w.log.Debug().Str("endpoint", r.name).Str("vendor", ep.Vendor).Float64("rate", ep.Rate).Int("concurrency", ep.Concurrency).Msg("endpoint server started")
	return nil
}

func (wa *watcher) run(ctx context.Context) {
	defer close(wa.done)
	tick := time.NewTicker(idleTick)
	defer tick.Stop()
	sweep := time.NewTimer(0) // a full sweep at once: work queued while no worker ran
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case wk := <-wa.wakes:
			if wk.resync {
				wa.sweep(ctx)
				continue
			}
			if r := wa.eps[wk.endpoint]; r != nil {
				wa.apply(r, event{kind: evWake, at: wk.at})
			}
		case name := <-wa.stopped:
			wa.apply(wa.eps[name], event{kind: evStopped})
		case <-tick.C:
			wa.tick(ctx)
		case <-sweep.C:
			n := wa.sweep(ctx)
			sweep.Reset(sweepEvery(n, probeCmdsPerEndpoint, wa.budget, wa.sweepMin))
		}
	}
}

// tick starts endpoints whose known task comes due and looks at the
// running servers that have been idle for the grace.
func (wa *watcher) tick(ctx context.Context) {
	now := time.Now()
	var idle []string
	for _, name := range wa.order {
		r := wa.eps[name]
		if r.st.dueNow(now, wa.rules) {
			wa.apply(r, event{kind: evDue})
		}
		if r.st.phase != phaseRunning {
			continue
		}
		if t := time.Unix(0, r.lastBusy.Load()); t.After(r.st.activeAt) {
			r.st.activeAt = t
		}
		if r.inflight.Load() > 0 {
			r.st.activeAt = now
			continue
		}
		if now.Sub(r.st.activeAt) >= wa.rules.grace {
			idle = append(idle, name)
		}
	}
	wa.observe(ctx, idle)
}

// sweep looks at every endpoint without a server; it returns how many.
func (wa *watcher) sweep(ctx context.Context) int {
	var names []string
	for _, name := range wa.order {
		if wa.eps[name].st.phase == phaseStopped {
			names = append(names, name)
		}
	}
	wa.observe(ctx, names)
	return len(names)
}

// observe probes names and applies what it saw. On a Redis error nothing
// changes: a running server keeps running, a stopped one waits for the
// next sweep.
func (wa *watcher) observe(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, idleCall)
	obs, err := probe(cctx, wa.w.rdb, names, time.Now())
	cancel()
	if err != nil && ctx.Err() == nil {
		wa.w.log.Debug().Err(err).Msg("idle watcher: cannot read the queues")
	}
	for _, name := range names {
		o, ok := obs[name]
		if !ok {
			continue
		}
		r := wa.eps[name]
		wa.apply(r, event{kind: evObserve, work: o.work, next: o.next, inflight: r.inflight.Load()})
	}
}

// apply steps r's state and does the action.
func (wa *watcher) apply(r *epRun, ev event) {
	var act action
	r.st, act = step(r.st, ev, time.Now(), wa.rules)
	switch act {
	case actStart:
		if err := wa.startServer(r); err != nil {
			wa.w.log.Error().Err(err).Str("endpoint", r.name).Msg("endpoint server did not start; the next sweep tries again")
			r.st.phase = phaseStopped
		}
	case actStop:
		srv := r.srv
		r.srv = nil
		r.up.Store(false)
		wa.w.Metrics.ServerRunning.WithLabelValues(r.name).Set(0)
		wa.stops.Add(1)
		go func() {
			defer wa.stops.Done()
			srv.Shutdown()
			wa.w.log.Debug().Str("endpoint", r.name).Msg("endpoint server stopped: idle")
			wa.stopped <- r.name
		}()
	}
}

// isUp reports whether name's server runs now (safe from any goroutine).
func (wa *watcher) isUp(name string) bool {
	r := wa.eps[name]
	return r != nil && r.up.Load()
}

// running lists the endpoints whose server runs now (safe from any goroutine).
func (wa *watcher) running() []string {
	var out []string
	for _, name := range wa.order {
		if wa.eps[name].up.Load() {
			out = append(out, name)
		}
	}
	return out
}
