// Package worker assembles the running service: for every configured
// endpoint one vendor client, one shared bucket, one handler and, while
// the endpoint has work, one asynq.Server with its own concurrency,
// serving only that endpoint's lanes. A backlog on one endpoint therefore
// never takes processing slots from another (docs/asynq-traps.md: one
// server has one pool for all its queues); an idle endpoint has no server
// and costs Redis nothing but its share of a paced sweep (idle.go,
// docs/idle.md).
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/handlerdeps"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// Options tune the worker; zero values take defaults.
type Options struct {
	Log        zerolog.Logger
	Registerer prometheus.Registerer // nil = metrics not registered anywhere
	HTTPClient *http.Client          // nil = one tuned client per endpoint
	Tuning     ratelimit.Tuning
	Horizon    time.Duration // longest in-handler wait (default 30s)
	// In-handler pause after a throttled answer (default 250ms growing to 8s).
	ThrottleInitial, ThrottleMax time.Duration
	PollInterval                 time.Duration // asynq TaskCheckInterval of a running server (default 200ms)
	ShutdownTimeout              time.Duration // drain time on SIGTERM (default 30s)
	// Idle endpoints (docs/idle.md). IdleGrace: a server with nothing to
	// do for this long is stopped (default 5s; at least
	// producer.WakeDebounce). SweepBudget: Redis commands/s the sweep for
	// unannounced work may cost (default 250), SweepMin: the shortest
	// time between sweeps (default 250ms). AlwaysOn: every endpoint's
	// server runs all the time, as before (the benchmark's baseline).
	IdleGrace   time.Duration
	SweepBudget float64
	SweepMin    time.Duration
	AlwaysOn    bool
}

// Worker is every endpoint's server.
type Worker struct {
	cfg     *config.Config
	conn    redisconn.Conn
	rdb     redis.UniversalClient
	log     zerolog.Logger
	Metrics *metrics.Metrics
	DLQ     *dlq.Store
	srvCfg  map[string]asynq.Config // each endpoint's server, built anew at every start (idle.go)
	muxes   map[string]*asynq.ServeMux
	order   []string
	buckets map[string]*ratelimit.Bucket
	opts    Options
	mu      sync.Mutex
	started bool
	idle    *watcher // runs the servers (idle.go)
	unwatch func()   // stops the pause watcher (pausewatch.go)
}

// New builds (but does not start) the worker for cfg.
func New(cfg *config.Config, conn redisconn.Conn, rdb redis.UniversalClient, o Options) (*Worker, error) {
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.IdleGrace <= 0 {
		o.IdleGrace = defaultIdleGrace
	}
	if o.IdleGrace < producer.WakeDebounce {
		// A producer leaves out a wake within WakeDebounce of the last
		// one: the server that one started must outlive it (docs/idle.md).
		o.IdleGrace = producer.WakeDebounce
	}
	if o.SweepBudget <= 0 {
		o.SweepBudget = defaultSweepBudget
	}
	if o.SweepMin <= 0 {
		o.SweepMin = defaultSweepMin
	}
	w := &Worker{
		cfg: cfg, conn: conn, rdb: rdb, log: o.Log,
		Metrics: metrics.New(o.Registerer), DLQ: dlq.New(rdb),
		srvCfg: map[string]asynq.Config{}, opts: o, muxes: map[string]*asynq.ServeMux{}, buckets: map[string]*ratelimit.Bucket{},
	}
	for _, name := range cfg.EndpointNames() {
		ep := cfg.Endpoints[name]
		bucket := ratelimit.New(rdb, name, ep.Rate, ep.Burst, o.Tuning)
		d := handlers.Deps{
			Policy: handlers.Policy{
				Endpoint: name, Vendor: ep.Vendor, Kind: ep.Kind(), MaxRetry: ep.Retries(), QuotaPause: ep.QuotaPause,
				Horizon: o.Horizon, ThrottleInitial: o.ThrottleInitial, ThrottleMax: o.ThrottleMax,
				ValidateTable: func(table string) error { return tasks.ValidateTable(ep.Vendor, table) },
				PhoneLimits:   handlers.PhoneLimits{PerMinute: ep.PhoneLimits.PerMinute, PerHour: ep.PhoneLimits.PerHour, PerDay: ep.PhoneLimits.PerDay},
				DailyBudget:   ep.DailyBudget,
				SendWindow:    sendWindow(ep.SendWindow), // lanes held outside a time of day (docs/lanes.md)
			},
			Limiter: handlerdeps.Limiter(bucket), DeadLetters: handlerdeps.DeadLetters(w.DLQ), Redis: rdb, Metrics: w.Metrics,
			Log:          o.Log, // the handler adds the endpoint to every line
			DedupeWindow: cfg.Dedupe.Window, ResultRetention: cfg.Results.Retention,
			NotifyBatch: handlerdeps.NotifyBatch(cfg.Results.NotifySecret, o.Log),
		}
		if err := attachClient(&d, ep, rdb, o.HTTPClient); err != nil {
			return nil, err
		}
		h, err := handlers.New(d)
		if err != nil {
			return nil, err
		}
		w.buckets[name] = bucket
		w.Metrics.EffectiveRate.WithLabelValues(name).Set(ep.Rate)
		w.Metrics.Paused.WithLabelValues(name).Set(0)
		w.Metrics.ServerRunning.WithLabelValues(name).Set(0)
		mux := asynq.NewServeMux()
		mux.Handle(tasks.TypeRecordCreate, h)
		mux.Handle(tasks.TypeSMSSend, h)
		w.srvCfg[name] = asynq.Config{
			Concurrency:              ep.Concurrency,
			Queues:                   tasks.QueueWeights(name), // lanes: high, default, low (tasks/priority.go)
			StrictPriority:           true,
			IsFailure:                handlers.IsFailure,
			RetryDelayFunc:           handlers.RetryDelay,
			TaskCheckInterval:        o.PollInterval,
			DelayedTaskCheckInterval: time.Second,
			ShutdownTimeout:          o.ShutdownTimeout,
			Logger:                   asynqLogger{o.Log.With().Str("endpoint", name).Str("component", "asynq").Logger()},
			LogLevel:                 asynq.WarnLevel,
		}
		w.order = append(w.order, name)
		w.muxes[name] = mux
	}
	return w, nil
}

// attachClient builds the endpoint's vendor client from its descriptor
// (the vendor's own file in vendorclient): the worker names no vendor.
func attachClient(d *handlers.Deps, ep *config.Endpoint, rdb redis.UniversalClient, hc *http.Client) error {
	desc, err := ep.Descriptor()
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", ep.Name, err)
	}
	c, err := desc.New(vendorclient.Settings{
		Endpoint: ep.Name, BaseURL: ep.BaseURL, Credentials: ep.Credentials,
		Timeout: ep.Timeout, HTTPClient: hc, Redis: rdb, KeyPrefix: keys.VendorPrefix(ep.Name),
	})
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", ep.Name, err)
	}
	d.Records, d.SMS = c.Records, c.SMS
	return nil
}

// Start starts serving: the idle watcher, which starts each endpoint's
// server when it has work (every server at once with AlwaysOn), and the
// pause watcher.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("worker: already started")
	}
	idle := newWatcher(w, w.opts)
	if err := idle.start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	for _, name := range w.order {
		ep := w.cfg.Endpoints[name]
		w.log.Info().Str("endpoint", name).Str("vendor", ep.Vendor).Float64("rate", ep.Rate).Int("concurrency", ep.Concurrency).Msg("serving endpoint")
	}
	w.idle = idle
	w.started = true
	w.unwatch = w.startPauseWatch()
	return nil
}

// Shutdown drains every server in parallel: no new tasks are taken, running
// handlers get ShutdownTimeout to finish, the rest go back to their queues.
func (w *Worker) Shutdown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		return
	}
	w.unwatch()
	w.idle.stop()
	w.started = false
	w.log.Info().Msg("worker stopped")
}

// Running lists the endpoints whose asynq server runs now: the others
// are idle (docs/idle.md).
func (w *Worker) Running() []string {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	if idle == nil {
		return nil
	}
	return idle.running()
}

// Waking wraps q (the enqueuer of a DLQ replay) so that every task it puts
// back wakes its endpoint in every worker process (docs/idle.md).
func (w *Worker) Waking(q producer.Enqueuer) producer.Enqueuer {
	return producer.NewWaker(w.rdb).WakingEnqueuer(q)
}

// Endpoints returns the served endpoint names.
func (w *Worker) Endpoints() []string { return append([]string(nil), w.order...) }

// Bucket returns the named endpoint's bucket (nil if unknown).
func (w *Worker) Bucket(name string) *ratelimit.Bucket { return w.buckets[name] }

// Ping checks Redis.
func (w *Worker) Ping(ctx context.Context) error { return w.rdb.Ping(ctx).Err() }

// asynqLogger routes asynq's own logs into zerolog.
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Fatal().Msg(fmt.Sprint(args...)) }
