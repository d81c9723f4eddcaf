package handlers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/results"
)

// noteFailure records a call that did not succeed: the time of the first
// one, how many there were and the last error and code, across runs and
// processes, for the dead-letter entry and the result (results.go).
// Successful calls need no bookkeeping (finish drops it), which keeps the
// success path at one Redis round trip after the call.
func (r *run) noteFailure(ctx context.Context, at time.Time, cause error) {
	k := keys.Attempts(r.h.ep)
	pipe := r.h.d.Redis.Pipeline()
	pipe.HSetNX(ctx, k, r.id+":first", at.UnixMilli())
	calls := pipe.HIncrBy(ctx, k, r.id+":calls", 1)
	if cause != nil {
		pipe.HSet(ctx, k, r.id+":err", lastError(cause), r.id+":code", codeOf(cause))
	}
	if _, err := pipe.Exec(ctx); err == nil { // bookkeeping only: never fail a call for it
		r.attempt = int(calls.Val())
	}
}

// history is what noteFailure recorded for the task.
type history struct {
	calls     int
	first     time.Time
	err, code string
}

// attempts returns (calls, first attempt time) recorded for the task.
func (r *run) attempts(ctx context.Context) (int, time.Time) {
	h := r.history(ctx)
	return h.calls, h.first
}

func (r *run) history(ctx context.Context) history {
	h := history{calls: r.attempt, first: r.started}
	v, err := r.h.d.Redis.HMGet(ctx, keys.Attempts(r.h.ep), r.id+":calls", r.id+":first", r.id+":err", r.id+":code").Result()
	if err != nil || len(v) != 4 {
		return h
	}
	if s, ok := v[0].(string); ok {
		if n, err := strconv.Atoi(s); err == nil {
			h.calls = n
		}
	}
	if s, ok := v[1].(string); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			h.first = time.UnixMilli(ms)
		}
	}
	h.err, _ = v[2].(string)
	h.code, _ = v[3].(string)
	return h
}

// finishDead is finish for a task just dead-lettered: no result record
// (the dead letter is its record), but its batch counts it dead.
func (r *run) finishDead(ctx context.Context) bool { return r.finishWith(ctx, ending{dead: true}) }

// finishWith marks the task done and drops its bookkeeping, in one
// pipeline (the one Redis round trip of the success path): the done
// marker, the result of a done task (results.go) and the count of the
// task in its import batch (internal/batch End). The marker is the
// producers' dedupe marker keys.Dedupe: a keyed task keeps it for
// dedupe.window (producers refuse the key meanwhile); every other task keeps
// it for doneTTL, for alreadyDone only — its id is a random UUID, which no
// producer ever enqueues again, so the marker can block nothing. Replay
// (internal/dlq) deletes it before re-enqueueing. It reports whether the
// marker was written.
//
// The vendor call has succeeded (or the task is dead-lettered), so failing
// the task now would call it again: instead the write is retried for up to
// finishPatience, detached from the task's context (a Redis blip or
// failover must not cost the marker). Every write in it is idempotent, so
// a retry after a write that went through changes nothing.
func (r *run) finishWith(ctx context.Context, e ending) bool {
	ttl := doneTTL
	if r.keyed {
		ttl = r.h.d.DedupeWindow
	}
	now := time.Now()
	var res *results.Record
	if !e.dead {
		rec := r.result(ctx, e, now)
		res = &rec
	}
	ref := r.batchRef()
	var end *redis.Cmd
	err := r.mustRecord(ctx, func(ctx context.Context, pipe redis.Pipeliner) {
		pipe.Set(ctx, keys.Dedupe(r.h.ep, r.id), "1", ttl)
		pipe.HDel(ctx, keys.Attempts(r.h.ep), r.id+":first", r.id+":calls", r.id+":err", r.id+":code")
		if res != nil {
			results.Write(ctx, pipe, r.h.ep, r.id, *res, r.h.d.ResultRetention)
		}
		end = batch.End(ctx, pipe, ref, e.dead, now, r.h.d.ResultRetention)
	})
	if err != nil {
		r.log.Warn().Err(err).Msg("task done but its done marker could not be written: a re-run after a lost acknowledgement, or the same key enqueued again, would call the vendor again")
		return false
	}
	r.batchComplete(ref, end)
	return true
}

// mustRecord writes what a vendor call that already happened leaves behind
// (a done marker, a delivered phone): the call cannot be undone, so the
// write is retried for up to finishPatience, detached from the task's
// context, so that a Redis blip or failover does not cost it.
func (r *run) mustRecord(ctx context.Context, write func(context.Context, redis.Pipeliner)) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishPatience)
	defer cancel()
	b := backoff.WithContext(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond), backoff.WithMaxInterval(2*time.Second)), ctx)
	return backoff.Retry(func() error {
		pipe := r.h.d.Redis.Pipeline()
		write(ctx, pipe)
		_, err := pipe.Exec(ctx)
		return err
	}, b)
}

// alreadyDone reports whether an earlier run of this task finished it (its
// call succeeded, or it was dead-lettered): asynq runs a task again when its
// acknowledgement was lost (docs/asynq-traps.md), and that run must not call
// the vendor. Only runs that are not the task's first ask (see prologue), so
// the first run pays nothing for it.
func (r *run) alreadyDone(ctx context.Context) (bool, error) {
	n, err := r.h.d.Redis.Exists(ctx, keys.Dedupe(r.h.ep, r.id)).Result()
	if err != nil {
		return false, fmt.Errorf("read the done marker: %w", err)
	}
	return n > 0, nil
}

const (
	// finishPatience bounds the retries of the done-marker write.
	finishPatience = 10 * time.Second
	// doneTTL keeps an unkeyed task's done marker. A lost acknowledgement
	// brings the task back within about two minutes (the 30 s lease, the
	// recoverer's 30 s cutoff and its 1-minute tick, asynq v0.26
	// recoverer.go); a day covers that with a wide margin, and a marker
	// costs about 100 bytes of Redis memory.
	doneTTL = 24 * time.Hour
)
