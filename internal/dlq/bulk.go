package dlq

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// bulkBatch is how many entries a filtered replay or purge reads, and
// removes, per round; replayConcurrency how many of a batch's tasks are
// enqueued at once (each enqueue is one round trip to Redis).
const (
	bulkBatch         = 500
	replayConcurrency = 8
)

// Bulk is the outcome of a filtered replay or purge.
type Bulk struct {
	Done int64 // replayed or purged
	// Skipped entries cannot be replayed (no task type or payload: an
	// undecodable entry); they stay where they are.
	Skipped int64
}

// ReplayFilter replays every entry that passes f, bulkBatch at a time:
// their dedupe markers are cleared (one pipeline), their tasks enqueued on
// their lane's queue under their original ids (a task with that id already
// queued counts as enqueued), and only then are the entries removed (one
// script). On an error it stops; what was enqueued before it is removed
// and counted, the rest stays, so nothing is lost.
func (s *Store) ReplayFilter(ctx context.Context, q Enqueuer, f Filter) (Bulk, error) {
	var res Bulk
	err := s.Walk(ctx, f, bulkBatch, func(es []Entry) error {
		var ok []Entry
		for _, e := range es {
			if e.Type == "" || len(e.Payload) == 0 {
				res.Skipped++
				continue
			}
			ok = append(ok, e)
		}
		if err := s.clearMarkersOf(ctx, ok); err != nil {
			return err
		}
		queued, err := enqueueAll(ctx, q, ok)
		n, rerr := s.removeEntries(ctx, queued)
		res.Done += n
		return errors.Join(err, rerr)
	})
	return res, err
}

// enqueueAll enqueues the tasks of es, replayConcurrency at a time, and
// returns the entries whose task is queued; err is the first failure.
func enqueueAll(ctx context.Context, q Enqueuer, es []Entry) ([]Entry, error) {
	done := make([]bool, len(es))
	errs := make([]error, len(es))
	var wg sync.WaitGroup
	sem := make(chan struct{}, replayConcurrency)
	for i, e := range es {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := q.EnqueueContext(ctx, replayTask(e), replayOptions(e)...)
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				errs[i] = fmt.Errorf("dlq replay %s/%s: %w", e.Endpoint, e.ID, err)
				return
			}
			done[i] = true
		}()
	}
	wg.Wait()
	var queued []Entry
	for i, e := range es {
		if done[i] {
			queued = append(queued, e)
		}
	}
	return queued, errors.Join(errs...)
}

// replayTask and replayOptions are the task a replay enqueues for e.
func replayTask(e Entry) *asynq.Task { return asynq.NewTask(e.Type, e.Payload) }

func replayOptions(e Entry) []asynq.Option {
	return []asynq.Option{asynq.Queue(tasks.Queue(e.Endpoint, tasks.PayloadPriority(e.Payload))), asynq.MaxRetry(tasks.AsynqMaxRetry), asynq.TaskID(e.ID)}
}

// PurgeFilter deletes every entry that passes f, bulkBatch at a time, and,
// unless opts.KeepKeys, their dedupe markers first (as PurgeWith does). An
// empty filter purges whole endpoints (PurgeWith).
func (s *Store) PurgeFilter(ctx context.Context, f Filter, opts PurgeOptions) (int64, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if f.Empty() {
		eps, err := s.filterEndpoints(ctx, f)
		if err != nil {
			return 0, err
		}
		var n int64
		for _, ep := range eps {
			m, err := s.PurgeWith(ctx, ep, opts)
			n += m
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	var n int64
	err := s.Walk(ctx, f, bulkBatch, func(es []Entry) error {
		if !opts.KeepKeys {
			if err := s.clearMarkersOf(ctx, es); err != nil {
				return err
			}
		}
		m, err := s.removeEntries(ctx, es)
		n += m
		return err
	})
	return n, err
}

// clearMarkersOf deletes the dedupe markers of es, one pipeline.
func (s *Store) clearMarkersOf(ctx context.Context, es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, e := range es {
		pipe.Del(ctx, keys.Dedupe(e.Endpoint, e.ID))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("dlq: clear dedupe markers: %w", err)
	}
	return nil
}

// removeEntries removes es, one script call per endpoint.
func (s *Store) removeEntries(ctx context.Context, es []Entry) (int64, error) {
	byEp := map[string][]string{}
	for _, e := range es {
		byEp[e.Endpoint] = append(byEp[e.Endpoint], e.ID)
	}
	var n int64
	for ep, ids := range byEp {
		m, err := s.removeIDs(ctx, ep, ids)
		n += m
		if err != nil {
			return n, fmt.Errorf("dlq remove %s: %w", ep, err)
		}
	}
	return n, nil
}
