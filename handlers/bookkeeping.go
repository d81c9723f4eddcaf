package handlers

import (
	"context"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/vendorq/vendorq/internal/keys"
)

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
