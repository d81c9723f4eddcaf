package producer

import (
	"context"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Bulk work (an import of a million rows) is bound by round trips, not by
// Redis: asynq's Client sends one EVALSHA per task and waits for its
// answer, so N enqueue workers keep at most N commands in flight and pay a
// write and a read system call per task on both sides (a CPU profile of a
// 300,000-row import: a quarter of its CPU in syscalls; redis-server used a
// third less CPU once they were gone: BENCHMARKS.md "Import").
//
// Bulk gives such work a producer whose asynq client goes through
// go-redis's autopipeliner (redis.AutoPipeliner: commands that concurrent
// goroutines issue leave together, as one pipeline) and whose EnqueueBatch
// enqueues up to BulkFanOut tasks of a batch at once, so the pipelines are
// deep. The dedupe check stays one explicit pipeline per batch, as before.
// BENCHMARKS.md "Import" has the figures.
//
// What a bulk producer changes for its caller:
//   - the tasks of one batch are enqueued in no particular order;
//   - the context of an enqueue does not bound it once its command is
//     queued (the autopipeliner runs batches on its own context); the
//     client's read and write timeouts (internal/redisconn) do;
//   - a pipeline that fails on a network error is resent whole (go-redis
//     retries it), so a task whose enqueue had already run comes back as a
//     duplicate of itself: it is queued once, only counted as a duplicate.
//
// The HTTP API and single enqueues keep the plain client: a request's
// context must bound its call, and one task has nothing to pipeline with.

// BulkFanOut is how many tasks of one EnqueueBatch a bulk producer has in
// flight at once (per caller: an import's 16 workers make 16 × BulkFanOut).
// Chosen on a 300,000-row import on two cores, two runs each: 16 took
// 7.9-8.7 s, 32 7.7 s, 64 7.5-7.9 s, 128 7.9-8.3 s; past 32 only the
// memory held grows.
const BulkFanOut = 32

// autoPipeliner is what *redis.Client and *redis.ClusterClient offer (a
// redis.Ring does not autopipeline).
type autoPipeliner interface {
	AutoPipeline() (*redis.AutoPipeliner, error)
}

// Bulk returns a producer for bulk enqueueing with p's config, Redis and
// waker (see above), and the function that releases it. Where the Redis
// client cannot autopipeline, it returns p itself and a no-op.
func (p *Producer) Bulk() (*Producer, func()) {
	c, ok := p.rdb.(autoPipeliner)
	if !ok {
		return p, func() {}
	}
	ap, err := c.AutoPipeline()
	if err != nil { // only for an invalid AutoPipelineOptions, which we never set
		return p, func() {}
	}
	bulk := *p
	bulk.client = asynq.NewClientFromRedisClient(ap)
	bulk.fanOut = BulkFanOut
	return &bulk, func() { _ = ap.Close() }
}

// enqueueAll enqueues items[i] for every i in todo (their dupe checks
// passed) with up to p.fanOut at once, recording each one's result. It
// stops starting new ones after the first failure and returns it once those
// in flight are done, so that done tells exactly what went in.
func (p *Producer) enqueueAll(ctx context.Context, items []Item, todo []int, ids []string, results []Result, done []bool) error {
	if p.fanOut <= 1 {
		for _, i := range todo {
			r, err := p.enqueueChecked(ctx, items[i].Task, ids[i])
			if err != nil {
				return err
			}
			results[i], done[i] = r, true
		}
		return nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, p.fanOut)
	)
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	for _, i := range todo {
		slots <- struct{}{}
		if failed() {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r, err := p.enqueueChecked(ctx, items[i].Task, ids[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			results[i], done[i] = r, true
		}()
	}
	wg.Wait()
	return first
}
