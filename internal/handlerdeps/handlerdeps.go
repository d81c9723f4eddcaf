// Package handlerdeps adapts vendorq's internal services to the interfaces
// the exported handlers package defines, so that handlers' API takes no
// internal type (the worker and the handlers' tests both build Deps with it).
// *metrics.Metrics satisfies handlers.Metrics as it is.
package handlerdeps

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/handlers"
	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/ratelimit"
	"github.com/vendorq/vendorq/tasks"
)

// Limiter is an endpoint's shared bucket as a handlers.Limiter.
func Limiter(b *ratelimit.Bucket) handlers.Limiter { return bucket{b} }

type bucket struct{ *ratelimit.Bucket } // Throttled, Pause and Rate as they are

// Wait translates the lane, the bucket's grant and *ratelimit.WaitError.
func (b bucket) Wait(ctx context.Context, lane tasks.Priority, horizon time.Duration) (handlers.Slot, error) {
	g, err := b.Bucket.Wait(ctx, ratelimit.Lane(lane.Rank()), horizon)
	slot := handlers.Slot{Waited: g.Waited, Factor: g.Factor}
	var we *ratelimit.WaitError
	if errors.As(err, &we) {
		return slot, &handlers.NotNow{Paused: errors.Is(err, ratelimit.ErrPaused), RetryIn: we.Delay, Cause: err}
	}
	return slot, err
}

// DeadLetters is the dead-letter store as handlers.DeadLetters.
func DeadLetters(s *dlq.Store) handlers.DeadLetters { return store{s} }

type store struct{ s *dlq.Store }

// Add stores e; handlers.DeadLetter has dlq.Entry's fields, so a change to
// one that the other lacks stops the build here.
func (s store) Add(ctx context.Context, e handlers.DeadLetter) error {
	return s.s.Add(ctx, dlq.Entry(e))
}

// NotifyBatch sends an import batch's completion webhook signed with
// secret (internal/batch Notifier); nil when no secret is configured, so
// that the handler says why no webhook goes out. Each send is bounded by
// the notifier's attempts, detached from any task.
func NotifyBatch(secret string, log zerolog.Logger) func(handlers.BatchCompletion) {
	if secret == "" {
		return nil
	}
	n := batch.Notifier{Secret: []byte(secret), Log: log}
	return func(c handlers.BatchCompletion) {
		_ = n.Send(context.Background(), batch.Completion{BatchID: c.BatchID, Endpoint: c.Endpoint, URL: c.URL,
			Enqueued: c.Enqueued, Duplicates: c.Duplicates, Done: c.Done, Dead: c.Dead}) // Send logs each failure
	}
}
