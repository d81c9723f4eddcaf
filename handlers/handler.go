// Package handlers turns an asynq task into vendor calls: it waits for the
// endpoint's shared rate-limit slot, calls the vendor, decides what the
// answer's class means (decide.go, the table of docs/vendors.md) and carries
// that out: done, wait, retry, pause or dead-letter (effects.go).
//
// One Handler serves one endpoint (one asynq queue and server), so a
// backlog on one vendor never holds another's processing slots.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// Deps is what a Handler needs. Records or SMS is set by Policy.Kind.
type Deps struct {
	Policy      Policy
	Records     vendorclient.RecordCreator // KindRecord endpoints
	SMS         vendorclient.SMSSender     // KindSMS endpoints
	Limiter     Limiter
	DeadLetters DeadLetters
	// Redis holds the per-task bookkeeping: failed-call counts, producers'
	// dedupe markers, the phones an SMS task already reached.
	Redis   redis.UniversalClient
	Log     zerolog.Logger
	Metrics Metrics // nil = none
	// DedupeWindow is how long a finished task's id blocks re-enqueue by producers.
	DedupeWindow time.Duration
	// ResultRetention is how long a done task's result, and its import
	// batch's counts, are kept (0 = 7 days; results.go).
	ResultRetention time.Duration
	// NotifyBatch sends an import batch's completion webhook; the handler
	// whose task ended the batch's last one calls it in a goroutine of its
	// own. nil = no webhook (results.go).
	NotifyBatch func(BatchCompletion)
	// Now is the clock of the spend windows (spend.go) and of the send
	// window (window.go); nil = time.Now, so that tests can turn the day.
	Now func() time.Time
}

// Handler serves one endpoint's queue.
type Handler struct {
	d     Deps
	pol   Policy // d.Policy with defaults filled in
	ep    string
	pause *pauseGauge
	spend *spender // nil: no phone_limits nor daily_budget
}

// taskKinds is the endpoint kind each task type needs.
var taskKinds = map[string]vendorclient.Kind{
	tasks.TypeRecordCreate: vendorclient.KindRecord,
	tasks.TypeSMSSend:      vendorclient.KindSMS,
}

// New returns the handler of d.Policy.Endpoint.
func New(d Deps) (*Handler, error) {
	p := d.Policy
	if p.Endpoint == "" || d.Limiter == nil || d.DeadLetters == nil || d.Redis == nil {
		return nil, errors.New("handlers: Policy.Endpoint, Limiter, DeadLetters and Redis are required")
	}
	switch {
	case p.Kind == vendorclient.KindRecord && d.Records == nil, p.Kind == vendorclient.KindSMS && d.SMS == nil:
		return nil, fmt.Errorf("handlers: endpoint %s (%s) has no %s client", p.Endpoint, p.Vendor, p.Kind)
	case p.Kind != vendorclient.KindRecord && p.Kind != vendorclient.KindSMS:
		return nil, fmt.Errorf("handlers: endpoint %s (%s) has no kind", p.Endpoint, p.Vendor)
	case p.MaxRetry < 0 || p.QuotaPause < 0:
		return nil, fmt.Errorf("handlers: endpoint %s: negative MaxRetry or QuotaPause", p.Endpoint)
	}
	p.QuotaPause = orDefault(p.QuotaPause, config.DefaultQuotaPause)
	p.Horizon = orDefault(p.Horizon, 30*time.Second)
	p.ThrottleInitial = orDefault(p.ThrottleInitial, 250*time.Millisecond)
	p.ThrottleMax = orDefault(p.ThrottleMax, 8*time.Second)
	d.DedupeWindow = orDefault(d.DedupeWindow, config.DefaultDedupeWindow)
	d.ResultRetention = orDefault(d.ResultRetention, config.DefaultResultRetention)
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	s, err := newSpender(d, p)
	if err != nil {
		return nil, err
	}
	m := d.Metrics
	return &Handler{d: d, pol: p, ep: p.Endpoint, pause: newPauseGauge(func(on bool) { m.SetPaused(p.Endpoint, on) }), spend: s}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ProcessTask implements asynq.Handler.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, _ := asynq.GetTaskID(ctx)
	failures, _ := asynq.GetRetryCount(ctx)
	r := &run{h: h, task: t, id: id, failures: failures, started: time.Now()}
	r.log = h.d.Log.With().Str("task_id", id).Str("type", t.Type()).Str("endpoint", h.ep).Int("failures", failures).Logger()
	kind, known := taskKinds[t.Type()]
	switch {
	case !known:
		return r.deadLetter(ctx, t.Payload(), "unknown_type", fmt.Errorf("unknown task type %q", t.Type()), "permanent")
	case kind != h.pol.Kind:
		return r.deadLetter(ctx, t.Payload(), "wrong_endpoint", fmt.Errorf("%s sent to %s endpoint %s (%s)", t.Type(), h.pol.Kind, h.ep, h.pol.Vendor), "permanent")
	case kind == vendorclient.KindSMS:
		return r.sms(ctx)
	default:
		return r.record(ctx)
	}
}
