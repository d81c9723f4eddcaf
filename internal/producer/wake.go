package producer

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// A worker runs an endpoint's asynq server only while the endpoint has
// work (docs/idle.md). A producer announces new work on the keys.Wake
// stream so that every worker process starts the endpoint's server at
// once (now, or when a delayed task is due) instead of finding the task
// on its next sweep.
const (
	// WakeDebounce: a second wake for the same endpoint within this long
	// is left out. Safe because a worker keeps a started server for its
	// idle grace (worker.Options.IdleGrace, default 5 s, always longer),
	// so the earlier wake's server is still there for the later task.
	WakeDebounce = 500 * time.Millisecond
	// wakeMaxLen caps the stream (approximately): readers only ever look
	// at entries written while they block, so old ones are of no use.
	wakeMaxLen = 10000
	wakeCall   = 2 * time.Second // bound of one XADD
)

// Waker writes wake-ups for endpoints, at most one per endpoint per
// WakeDebounce. Safe for concurrent use.
type Waker struct {
	rdb  redis.UniversalClient
	now  func() time.Time
	mu   sync.Mutex
	last map[string]wakeMark
}

// wakeMark is the last wake written for an endpoint.
type wakeMark struct{ sent, at time.Time }

// NewWaker returns a waker writing to rdb.
func NewWaker(rdb redis.UniversalClient) *Waker {
	return &Waker{rdb: rdb, now: time.Now, last: map[string]wakeMark{}}
}

// needWake decides whether a task of an endpoint due at `at` needs a wake
// given the endpoint's last one: not when a wake was sent within every
// and it was due no later (its server, started then, finds this task,
// or, for a delayed one, reads the next due time when it goes idle).
func needWake(last wakeMark, seen bool, now, at time.Time, every time.Duration) bool {
	if !seen || now.Sub(last.sent) >= every || now.Before(last.sent) {
		return true
	}
	return at.Before(last.at)
}

// Wake announces work on endpoint due at `at` (zero: now). A failure is
// returned but loses nothing: the workers' sweep finds the task anyway,
// only later (docs/idle.md).
func (w *Waker) Wake(ctx context.Context, endpoint string, at time.Time) error {
	now := w.now()
	if at.IsZero() || at.Before(now) {
		at = now
	}
	w.mu.Lock()
	last, seen := w.last[endpoint]
	if !needWake(last, seen, now, at, WakeDebounce) {
		w.mu.Unlock()
		return nil
	}
	// Marked before the write so that concurrent enqueues of a burst
	// write one wake; undone if the write fails, so the next one retries.
	w.last[endpoint] = wakeMark{sent: now, at: at}
	w.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, wakeCall)
	defer cancel()
	err := w.rdb.XAdd(cctx, &redis.XAddArgs{
		Stream: keys.Wake, MaxLen: wakeMaxLen, Approx: true,
		Values: []any{"ep", endpoint, "at", strconv.FormatInt(at.UnixMilli(), 10)},
	}).Err()
	if err != nil {
		w.mu.Lock()
		if w.last[endpoint] == (wakeMark{sent: now, at: at}) {
			delete(w.last, endpoint)
		}
		w.mu.Unlock()
	}
	return err
}

// WakeTask wakes the endpoint of an enqueued task (its queue names it,
// any lane), at the task's time when it was scheduled.
func (w *Waker) WakeTask(ctx context.Context, info *asynq.TaskInfo) error {
	if info == nil {
		return nil
	}
	ep, _, ok := tasks.ParseQueue(info.Queue)
	if !ok {
		return nil
	}
	var at time.Time
	if info.State == asynq.TaskStateScheduled {
		at = info.NextProcessAt
	}
	return w.Wake(ctx, ep, at)
}

// Enqueuer is the part of *asynq.Client that DLQ replay needs (the method
// set of dlq.Enqueuer).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// WakingEnqueuer returns q that also wakes the endpoint of every task it
// enqueues (a DLQ replay, say): a replay of 50,000 entries writes one
// wake per WakeDebounce, not 50,000.
func (w *Waker) WakingEnqueuer(q Enqueuer) Enqueuer { return wakingEnqueuer{q, w} }

type wakingEnqueuer struct {
	q Enqueuer
	w *Waker
}

func (e wakingEnqueuer) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := e.q.EnqueueContext(ctx, t, opts...)
	if err == nil {
		_ = e.w.WakeTask(ctx, info) // best effort: the sweep covers a lost wake
	}
	return info, err
}

// Waker returns the producer's waker: for a caller that puts work on an
// endpoint by other means and wants the workers to see it at once.
func (p *Producer) Waker() *Waker { return p.wake }
