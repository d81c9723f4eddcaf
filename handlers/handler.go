// Package handlers turns an asynq task into vendor calls: it waits for the
// endpoint's shared rate-limit slot, calls the vendor, and maps the answer's
// class (SPEC §2.5) to done, wait, retry or dead-letter.
//
// One Handler serves one endpoint (one asynq queue and server), so a
// backlog on one vendor never holds another's processing slots.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/metrics"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// SMSSender sends one message to one phone (vendorclient.Caihcom).
type SMSSender interface {
	Send(ctx context.Context, m vendorclient.SMS) error
}

// Deps is what a Handler needs; Records or SMS is set by the endpoint's vendor.
type Deps struct {
	Endpoint *config.Endpoint
	Records  vendorclient.RecordCreator
	SMS      SMSSender
	Bucket   *ratelimit.Bucket
	DLQ      *dlq.Store
	Redis    redis.UniversalClient
	Log      zerolog.Logger
	Metrics  *metrics.Metrics // nil = none
	// DedupeWindow is how long a finished task's id blocks re-enqueue by producers.
	DedupeWindow time.Duration
	// Horizon is the longest a handler sleeps in-process for a slot or after a
	// throttled answer before handing the task back to the queue (default 30s).
	Horizon time.Duration
	// ThrottleBackoff is the first and the longest in-handler pause after a
	// throttled answer (default 250ms growing to 8s).
	ThrottleInitial, ThrottleMax time.Duration
}

// Handler serves one endpoint's queue.
type Handler struct {
	d      Deps
	ep     string
	vendor string
}

// New returns the handler of d.Endpoint.
func New(d Deps) (*Handler, error) {
	if d.Endpoint == nil || d.Bucket == nil || d.DLQ == nil || d.Redis == nil {
		return nil, errors.New("handlers: Endpoint, Bucket, DLQ and Redis are required")
	}
	if d.Endpoint.IsSMS() && d.SMS == nil || !d.Endpoint.IsSMS() && d.Records == nil {
		return nil, fmt.Errorf("handlers: endpoint %s (%s) has no vendor client", d.Endpoint.Name, d.Endpoint.Vendor)
	}
	if d.Horizon <= 0 {
		d.Horizon = 30 * time.Second
	}
	if d.ThrottleInitial <= 0 {
		d.ThrottleInitial = 250 * time.Millisecond
	}
	if d.ThrottleMax <= 0 {
		d.ThrottleMax = 8 * time.Second
	}
	if d.DedupeWindow <= 0 {
		d.DedupeWindow = config.DefaultDedupeWindow
	}
	return &Handler{d: d, ep: d.Endpoint.Name, vendor: d.Endpoint.Vendor}, nil
}

// ProcessTask implements asynq.Handler.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, _ := asynq.GetTaskID(ctx)
	failures, _ := asynq.GetRetryCount(ctx)
	r := &run{h: h, task: t, id: id, failures: failures, started: time.Now()}
	r.log = h.d.Log.With().Str("task_id", id).Str("type", t.Type()).Str("endpoint", h.ep).Int("failures", failures).Logger()
	switch t.Type() {
	case tasks.TypeRecordCreate:
		if h.d.Endpoint.IsSMS() {
			return r.deadLetter(ctx, t.Payload(), "wrong_endpoint", fmt.Errorf("record:create sent to SMS endpoint %s", h.ep), "permanent")
		}
		return r.record(ctx)
	case tasks.TypeSMSSend:
		if !h.d.Endpoint.IsSMS() {
			return r.deadLetter(ctx, t.Payload(), "wrong_endpoint", fmt.Errorf("sms:send sent to %s endpoint %s", h.vendor, h.ep), "permanent")
		}
		return r.sms(ctx)
	default:
		return r.deadLetter(ctx, t.Payload(), "unknown_type", fmt.Errorf("unknown task type %q", t.Type()), "permanent")
	}
}

// run is one execution of one task.
type run struct {
	h         *Handler
	task      *asynq.Task
	id        string
	failures  int
	started   time.Time
	log       zerolog.Logger
	throttles int  // throttled answers in this run
	keyed     bool // the producer gave an idempotency key (the task id derives from it)
	attempt   int  // vendor calls for this task: failed ones across runs (from Redis) plus this one
}

// outcome says what the run loop should do after one vendor call.
type outcome int

const (
	outDone  outcome = iota
	outAgain         // call again now (after an in-handler pause)
	outReturn
)

// acquire waits for the endpoint's slot. A pause or a slot beyond the
// horizon hands the task back to the queue without counting a failure.
func (r *run) acquire(ctx context.Context) error {
	g, err := r.h.d.Bucket.Wait(ctx, r.h.d.Horizon)
	if m := r.h.d.Metrics; m != nil {
		m.EffectiveRate.WithLabelValues(r.h.ep).Set(r.h.d.Bucket.Rate() * g.Factor)
		if err == nil {
			m.TokenWait.WithLabelValues(r.h.ep).Observe(g.Waited.Seconds())
		}
		var we *ratelimit.WaitError
		m.Paused.WithLabelValues(r.h.ep).Set(b2f(errors.As(err, &we) && errors.Is(err, ratelimit.ErrPaused)))
	}
	if err == nil {
		return nil
	}
	var we *ratelimit.WaitError
	if errors.As(err, &we) {
		return &RetryError{Delay: jitter(we.Delay), Failure: false, Cause: err}
	}
	// Redis unreachable or our deadline: not the task's fault.
	return &RetryError{Delay: jitter(2 * time.Second), Failure: false, Cause: err}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// noteFailure records a call that did not succeed: the time of the first
// one and how many there were, across runs and processes, for the
// dead-letter entry. Successful calls need no bookkeeping (finish drops it),
// which keeps the success path at one Redis round trip after the call.
func (r *run) noteFailure(ctx context.Context, at time.Time) {
	k := keys.Attempts(r.h.ep)
	pipe := r.h.d.Redis.Pipeline()
	pipe.HSetNX(ctx, k, r.id+":first", at.UnixMilli())
	calls := pipe.HIncrBy(ctx, k, r.id+":calls", 1)
	if _, err := pipe.Exec(ctx); err == nil { // bookkeeping only: never fail a call for it
		r.attempt = int(calls.Val())
	}
}

// attempts returns (calls, first attempt time) recorded for the task.
func (r *run) attempts(ctx context.Context) (int, time.Time) {
	v, err := r.h.d.Redis.HMGet(ctx, keys.Attempts(r.h.ep), r.id+":calls", r.id+":first").Result()
	calls, first := r.attempt, r.started
	if err != nil || len(v) != 2 {
		return calls, first
	}
	if s, ok := v[0].(string); ok {
		if n, err := strconv.Atoi(s); err == nil {
			calls = n
		}
	}
	if s, ok := v[1].(string); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			first = time.UnixMilli(ms)
		}
	}
	return calls, first
}

// finish marks a keyed task's id as done for producers' dedupe (a random
// id can never be enqueued again, so it needs no marker) and drops bookkeeping.
//
// The vendor call has succeeded, so failing the task now would call it
// again: instead the write is retried for up to finishPatience, detached
// from the task's context (a Redis blip or failover must not cost the marker).
func (r *run) finish(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishPatience)
	defer cancel()
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond), backoff.WithMaxInterval(2*time.Second)), ctx)
	err := backoff.Retry(func() error {
		pipe := r.h.d.Redis.Pipeline()
		if r.keyed {
			pipe.Set(ctx, keys.Dedupe(r.h.ep, r.id), "1", r.h.d.DedupeWindow)
		}
		pipe.HDel(ctx, keys.Attempts(r.h.ep), r.id+":first", r.id+":calls")
		_, err := pipe.Exec(ctx)
		return err
	}, b)
	if err != nil {
		r.log.Warn().Err(err).Msg("task done but its dedupe marker could not be written: the same key could be enqueued again")
	}
}

// finishPatience bounds the retries of the done-marker write.
const finishPatience = 10 * time.Second

// deadLetter parks the task (with payload, possibly narrowed to what is left
// to do) in the DLQ and completes it in asynq. If the DLQ cannot be written
// the task goes back to the queue: it is never dropped.
func (r *run) deadLetter(ctx context.Context, payload []byte, code string, cause error, class string) error {
	calls, first := r.attempts(ctx)
	e := dlq.Entry{
		ID: r.id, Type: r.task.Type(), Endpoint: r.h.ep, Error: cause.Error(), Class: class, Code: code,
		Attempts: calls, FirstAttempt: first, LastAttempt: time.Now(), Payload: payload,
	}
	if err := r.h.d.DLQ.Add(ctx, e); err != nil {
		r.log.Error().Err(err).Msg("dead-letter write failed; task stays queued")
		return &RetryError{Delay: jitter(5 * time.Second), Failure: false, Cause: err}
	}
	r.finish(ctx)
	if m := r.h.d.Metrics; m != nil {
		m.DeadLettered.WithLabelValues(r.h.ep, code).Inc()
	}
	r.log.Error().Str("class", class).Str("code", code).Int("attempts", calls).Str("error", tasks.MaskPhones(cause.Error())).Msg("dead-lettered")
	return nil
}

// classify decides what a failed vendor call means for this run.
// It returns outAgain after sleeping in-process, or outReturn with the
// error to hand to asynq (nil when the task was dead-lettered).
func (r *run) classify(ctx context.Context, err error, payload []byte) (outcome, error) {
	ve := vendorclient.AsError(err)
	class := vendorclient.ClassOf(err)
	code := "error"
	var delay time.Duration
	if ve != nil {
		code, delay = ve.Code, ve.Delay
	}
	switch class {
	case vendorclient.ClassThrottled:
		r.throttles++
		if _, terr := r.h.d.Bucket.Throttled(ctx, delay); terr != nil {
			r.log.Warn().Err(terr).Msg("could not slow the bucket down")
		}
		wait := throttleBackoff(r.throttles-1, r.h.d.ThrottleInitial, r.h.d.ThrottleMax, delay)
		r.log.Warn().Str("class", "throttled").Str("code", code).Dur("backoff_ms", wait).Int("attempt", r.attempt).Msg("vendor says too fast; endpoint slowed down")
		if wait <= r.h.d.Horizon && sleepCtx(ctx, wait) {
			return outAgain, nil
		}
		return outReturn, &RetryError{Delay: jitter(wait), Failure: false, Cause: err}
	case vendorclient.ClassQuota:
		pause := r.h.d.Endpoint.QuotaPause
		if delay > pause {
			pause = delay
		}
		if perr := r.h.d.Bucket.Pause(ctx, pause, code); perr != nil {
			r.log.Error().Err(perr).Msg("could not pause the endpoint")
		}
		if m := r.h.d.Metrics; m != nil {
			m.Paused.WithLabelValues(r.h.ep).Set(1)
		}
		r.log.Error().Str("class", "quota").Str("code", code).Dur("pause_ms", pause).Int("attempt", r.attempt).Msg("vendor quota exhausted: endpoint PAUSED, tasks wait")
		return outReturn, &RetryError{Delay: jitter(pause), Failure: false, Cause: err}
	case vendorclient.ClassPermanent:
		return outReturn, r.deadLetter(ctx, payload, code, err, "permanent")
	default: // transient, token (the client already refreshed and retried once)
		if r.failures >= r.h.d.Endpoint.Retries() {
			return outReturn, r.deadLetter(ctx, payload, code, fmt.Errorf("gave up after %d retries: %w", r.failures, err), class.String())
		}
		d := transientBackoff(r.failures)
		r.log.Warn().Str("class", class.String()).Str("code", code).Dur("retry_in_ms", d).Int("attempt", r.attempt).Str("error", tasks.MaskPhones(err.Error())).Msg("transient failure; will retry")
		return outReturn, &RetryError{Delay: d, Failure: true, Cause: err}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *run) observe(class, code string, d time.Duration) {
	r.h.d.Metrics.ObserveCall(r.h.ep, r.h.vendor, class, code, d)
}

func codeOf(err error) string {
	if ve := vendorclient.AsError(err); ve != nil {
		return ve.Code
	}
	if err == nil {
		return "ok"
	}
	return "error"
}
