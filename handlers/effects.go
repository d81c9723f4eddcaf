package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/clock"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// The effects of a decision (decide.go): everything here talks to Redis,
// sleeps, logs or writes metrics, and decides nothing.

// apply carries out d, the decision on the failed call cause (in is what
// it was decided from). It returns again = true after sleeping in-process
// (call again now), else the error to hand to asynq. actDeadLetter is the
// caller's, which knows the payload to park (see deadLetterRefusal).
func (r *run) apply(ctx context.Context, in input, d decision, cause error) (again bool, handBack error) {
	if d.slow {
		if _, err := r.h.d.Limiter.Throttled(ctx, d.hold); err != nil {
			r.log.Warn().Err(err).Msg("could not slow the bucket down")
		}
	}
	back := &RetryError{Delay: d.delay, Failure: d.failure, Cause: cause}
	switch d.action {
	case actCallAgain, actHandBack:
		r.warn(in).Dur("backoff_ms", d.delay).Bool("handed_back", d.action == actHandBack).Msg("vendor says too fast; endpoint slowed down")
		if d.action == actCallAgain && clock.Sleep(ctx, d.delay) == nil {
			return true, nil
		}
		return false, back
	case actPause:
		r.pauseEndpoint(ctx, in, d)
		return false, back
	case actRetry:
		r.warn(in).Dur("retry_in_ms", d.delay).Str("error", tasks.MaskPhones(cause.Error())).Msg("transient failure; will retry")
		return false, back
	}
	return false, nil
}

func (r *run) warn(in input) *zerolog.Event {
	return r.log.Warn().Str("class", in.class.String()).Str("code", in.code).Int("attempt", r.attempt)
}

// pauseEndpoint stops every call on the endpoint, fleet-wide, for d.pause
// and tells operators: an error-level log saying until when, and
// vendorq_endpoint_paused = 1 until then.
func (r *run) pauseEndpoint(ctx context.Context, in input, d decision) {
	if err := r.h.d.Limiter.Pause(ctx, d.pause, d.reason); err != nil {
		r.log.Error().Err(err).Msg("could not pause the endpoint")
	}
	r.h.pause.pausedFor(d.pause)
	why := "vendor quota exhausted"
	if in.class == vendorclient.ClassThrottled {
		why = "vendor asks to wait"
	}
	r.log.Error().Str("class", in.class.String()).Str("code", in.code).Str("reason", d.reason).
		Dur("pause_ms", d.pause).Time("until", time.Now().Add(d.pause)).Int("attempt", r.attempt).
		Msg(why + ": endpoint PAUSED, tasks wait")
}

// deadLetterRefusal parks a refused call's task with payload.
func (r *run) deadLetterRefusal(ctx context.Context, payload []byte, f *refusal) error {
	cause := f.err
	if f.dec.gaveUp {
		cause = fmt.Errorf("gave up after %d retries: %w", r.failures, f.err)
	}
	return r.deadLetter(ctx, payload, f.dec.code, cause, f.dec.dlqClass)
}

// deadLetter parks the task (with payload, possibly narrowed to what is left
// to do) in the DLQ and completes it in asynq. If the DLQ cannot be written
// the task goes back to the queue: it is never dropped.
func (r *run) deadLetter(ctx context.Context, payload []byte, code string, cause error, class string) error {
	calls, first := r.attempts(ctx)
	e := DeadLetter{
		ID: r.id, Type: r.task.Type(), Endpoint: r.h.ep, Error: cause.Error(), Class: class, Code: code,
		Attempts: calls, FirstAttempt: first, LastAttempt: time.Now(), Payload: payload,
	}
	if err := r.h.d.DeadLetters.Add(ctx, e); err != nil {
		r.log.Error().Err(err).Msg("dead-letter write failed; task stays queued")
		return comeBackIn(5*time.Second, err)
	}
	r.finishDead(ctx)
	r.h.d.Metrics.IncDeadLettered(r.h.ep, code)
	r.log.Error().Str("class", class).Str("code", code).Int("attempts", calls).Str("error", tasks.MaskPhones(cause.Error())).Msg("dead-lettered")
	return nil
}
