package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// run is one execution of one task.
type run struct {
	h         *Handler
	task      *asynq.Task
	id        string
	failures  int
	started   time.Time
	log       zerolog.Logger
	throttles int            // throttled answers in this run
	keyed     bool           // the producer gave an idempotency key (the task id derives from it)
	lane      tasks.Priority // the payload's priority (prologue): its place in the bucket and the send window
	attempt   int            // vendor calls for this task: failed ones across runs (from Redis) plus this one
}

// payload is a task payload as the prologue sees it.
type payload interface {
	head() (endpoint, key string)
	validate(p Policy) error // the payload's own rules and the endpoint's
}

// prologue is what every task does before its first call: on a run that
// is not the task's first, check that no earlier run finished it; decode the
// payload into p, note whether the producer keyed it (a keyed task leaves a
// dedupe marker even when dead-lettered), validate it and check that it was
// queued for this endpoint. When it returns false this run is over (already
// done, handed back, or dead-lettered) and err is for asynq.
func (r *run) prologue(ctx context.Context, p payload) (ok bool, err error) {
	// Every way asynq runs a task again after a run that may have succeeded
	// counts a failure: the recoverer hands a task whose lease expired (a lost
	// acknowledgement, a dead worker) back with ErrLeaseExpired, which
	// IsFailure counts (asynq v0.26 recoverer.go, rdb.Retry). A run after one
	// of our own waits (throttle, quota, no slot: uncounted) follows a run
	// that handed the task back without a success. So the first run, and
	// those, ask nothing. (The exception: a shutdown that outlasts
	// ShutdownTimeout requeues a running task uncounted, as a kill would.)
	if r.failures > 0 {
		done, err := r.alreadyDone(ctx)
		if err != nil {
			// Not knowing is no reason to call blind: wait for Redis.
			return false, comeBackIn(2*time.Second, err)
		}
		if done {
			r.log.Info().Msg("already done; not calling the vendor again")
			return false, nil
		}
	}
	raw := r.task.Payload()
	if err := json.Unmarshal(raw, p); err != nil {
		return false, r.deadLetter(ctx, raw, "bad_payload", fmt.Errorf("payload is not a %s JSON object: %w", r.task.Type(), err), "permanent")
	}
	endpoint, key := p.head()
	r.keyed = key != ""
	r.lane = laneOf(p)
	if err := p.validate(r.h.pol); err != nil {
		return false, r.deadLetter(ctx, raw, "bad_payload", err, "permanent")
	}
	if endpoint != r.h.ep {
		return false, r.deadLetter(ctx, raw, "wrong_endpoint", fmt.Errorf("payload endpoint %q on queue %q", endpoint, r.h.ep), "permanent")
	}
	return true, nil
}

// laneOf is the decoded payload's lane (default when it names none).
func laneOf(p payload) tasks.Priority {
	switch v := p.(type) {
	case *recordPayload:
		return v.Priority.Or()
	case *smsPayload:
		return v.Priority.Or()
	}
	return tasks.PriorityDefault
}

// refusal is a failed call whose decision is to dead-letter: the caller
// knows which payload the entry carries.
type refusal struct {
	err error
	dec decision
}

// callUntilDone calls send once per granted slot until the vendor accepts
// (it returns the call's duration), or the decision ends this run: then
// either handBack is the error for asynq (a wait, retry or pause, already
// carried out) or refused is the call to dead-letter. send returns the
// vendor's warning on an accepted call ("" = none).
func (r *run) callUntilDone(ctx context.Context, send func(context.Context) (string, error)) (took time.Duration, refused *refusal, handBack error) {
	for {
		if err := r.acquire(ctx); err != nil {
			return 0, nil, err
		}
		start := time.Now()
		r.attempt++
		warning, err := send(ctx)
		took = time.Since(start)
		if err == nil {
			r.observe("ok", okCode(warning), took)
			return took, nil, nil
		}
		r.noteFailure(ctx, start, err)
		r.observe(classOf(err), codeOf(err), took)
		in := r.inputFor(err)
		d := decide(in)
		if in.class == vendorclient.ClassThrottled {
			r.throttles++
		}
		if d.action == actDeadLetter {
			return took, &refusal{err: err, dec: d}, nil
		}
		if again, handBack := r.apply(ctx, in, d, err); !again {
			return took, nil, handBack
		}
	}
}

func (r *run) inputFor(err error) input {
	in := input{
		class: vendorclient.ClassOf(err), code: codeOf(err),
		failures: r.failures, throttles: r.throttles, policy: r.h.pol, random: rand.Float64,
	}
	if ve := vendorclient.AsError(err); ve != nil {
		in.suggested = ve.Delay
	}
	return in
}

// acquire waits for the lane's send window (window.go), then for the
// endpoint's slot. A closed window, a pause or a slot beyond the horizon
// hands the task back to the queue without counting a failure.
func (r *run) acquire(ctx context.Context) error {
	if err := r.holdForWindow(ctx); err != nil {
		return err
	}
	slot, err := r.h.d.Limiter.Wait(ctx, r.lane, r.h.pol.Horizon)
	m := r.h.d.Metrics
	m.SetEffectiveRate(r.h.ep, r.h.d.Limiter.Rate()*slot.Factor)
	var nn *NotNow
	switch {
	case err == nil:
		m.ObserveTokenWait(r.h.ep, slot.Waited)
		r.h.pause.notPaused()
		return nil
	case errors.As(err, &nn):
		if nn.Paused {
			r.h.pause.pausedFor(nn.RetryIn)
		}
		return comeBackIn(nn.RetryIn, err)
	}
	// Redis unreachable or our deadline: not the task's fault.
	return comeBackIn(2*time.Second, err)
}

func (r *run) observe(class, code string, d time.Duration) {
	r.h.d.Metrics.ObserveCall(r.h.ep, r.h.pol.Vendor, class, code, d)
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

func classOf(err error) string { return vendorclient.ClassOf(err).String() }

func okCode(warning string) string {
	if warning != "" {
		return "ok_with_warning"
	}
	return "ok"
}
