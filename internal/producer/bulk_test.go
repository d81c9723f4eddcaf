package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

// evalCounter is a go-redis hook counting the enqueue scripts (EVALSHA or,
// after NOSCRIPT, EVAL) that reach Redis alone and inside pipelines.
type evalCounter struct {
	mu                          sync.Mutex
	alone, piped, pipesWithEval int
}

func isEval(c redis.Cmder) bool { return strings.HasPrefix(strings.ToLower(c.Name()), "eval") }

func (h *evalCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *evalCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isEval(cmd) {
			h.mu.Lock()
			h.alone++
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *evalCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if isEval(c) {
				n++
			}
		}
		h.mu.Lock()
		h.piped += n
		if n > 0 {
			h.pipesWithEval++
		}
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *evalCounter) counts() (alone, piped, pipes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.alone, h.piped, h.pipesWithEval
}

func bulkItems(t *testing.T, p *Producer, n int, key func(i int) string) []Item {
	t.Helper()
	items := make([]Item, n)
	for i := range items {
		task, err := p.PrepareRecord(record(i, key(i)))
		if err != nil {
			t.Fatal(err)
		}
		items[i] = Item{Task: task, Endpoint: "forms", Key: key(i)}
	}
	return items
}

// A bulk producer enqueues every task of a batch once, finds the duplicates
// the plain one finds, and sends the enqueues in shared pipelines (the
// point of it: without the autopipeliner every EVALSHA goes alone).
func TestBulkEnqueuesEveryTaskOnceThroughSharedPipelines(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	plain, rdb, in := setup(t, s)
	ctx := context.Background()
	for i := range 10 { // already queued: duplicates
		if _, err := plain.Record(ctx, record(i, fmt.Sprintf("k%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	hook := &evalCounter{}
	rdb.AddHook(hook)
	bulk, release := plain.Bulk()
	t.Cleanup(release)
	if bulk == plain || bulk.fanOut != BulkFanOut {
		t.Fatal("a *redis.Client should give a bulk producer of its own")
	}
	const n = 1000
	items := bulkItems(t, plain, n, func(i int) string {
		if i == n-1 {
			return "k500" // the same key twice in one batch: one task
		}
		return fmt.Sprintf("k%d", i)
	})
	res, done, err := bulk.EnqueueBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for i, r := range res {
		if !done[i] || r.TaskID != tasks.TaskID(items[i].Key) {
			t.Fatalf("item %d: %+v done=%v", i, r, done[i])
		}
		if r.Duplicate {
			dups++
		}
		if i < 10 && !r.Duplicate {
			t.Errorf("item %d was queued before: want a duplicate", i)
		}
	}
	if dups != 11 {
		t.Errorf("%d duplicates, want 11 (10 queued before, one key twice)", dups)
	}
	if qi, err := in.GetQueueInfo("forms"); err != nil || qi.Pending != n-1 {
		t.Fatalf("pending %v (%v), want %d: one task per key", qi, err, n-1)
	}
	// n-10 scripts: the 10 queued before never get one; k500's second
	// copy passed the dupe check with its first and met it in asynq. The
	// autopipeliner sends a lone command by itself (a batch's tail).
	alone, piped, pipes := hook.counts()
	if alone+piped != n-10 || alone > n/10 || pipes == 0 || piped < 4*pipes {
		t.Fatalf("enqueue scripts: %d alone, %d in %d pipelines; want all %d sent once, nearly all in pipelines of 4 or more on average", alone, piped, pipes, n-10)
	}
	t.Logf("%d enqueue scripts in %d pipelines (%.1f per pipeline)", piped, pipes, float64(piped)/float64(pipes))

	// Run again: every one is a duplicate now.
	res, _, err = bulk.EnqueueBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Duplicate {
			t.Fatalf("re-run item %d not a duplicate", i)
		}
	}
}

// A failure in the middle of a bulk batch (here asynq refusing one task)
// ends the call with the error, and done[] is exactly what is in Redis:
// the importer's resume line depends on it.
func TestBulkReportsExactlyWhatWentIn(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	plain, rdb, _ := setup(t, s)
	bulk, release := plain.Bulk()
	t.Cleanup(release)
	ctx := context.Background()
	const n, bad = 400, 150
	items := bulkItems(t, plain, n, func(i int) string { return fmt.Sprintf("r%d", i) })
	items[bad].Task = asynq.NewTask(" ", nil) // "task typename cannot be empty"
	_, done, err := bulk.EnqueueBatch(ctx, items)
	if !errors.Is(err, ErrRedis) {
		t.Fatalf("err %v, want ErrRedis", err)
	}
	in := 0
	for i, it := range items {
		found, err := rdb.Exists(ctx, keys.AsynqTask("forms", tasks.TaskID(it.Key))).Result()
		if err != nil {
			t.Fatal(err)
		}
		if done[i] != (found == 1) {
			t.Fatalf("item %d: done=%v but in Redis=%v", i, done[i], found == 1)
		}
		if found == 1 {
			in++
		}
	}
	if done[bad] || in == 0 || in == n-1 {
		t.Fatalf("%d of %d in (item %d done=%v): want the refused one out and the batch stopped", in, n, bad, done[bad])
	}
	t.Logf("%d of %d went in before the batch stopped", in, n)
}

// With Redis down a bulk batch fails at once (no hang in the
// autopipeliner) and reports nothing done.
func TestBulkWithRedisDownFailsAndReportsNothingDone(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	plain, _, _ := setup(t, s)
	bulk, release := plain.Bulk()
	t.Cleanup(release)
	items := bulkItems(t, plain, 100, func(i int) string { return fmt.Sprintf("d%d", i) })
	s.Crash()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	finished := make(chan struct{})
	var done []bool
	var err error
	go func() {
		defer close(finished)
		_, done, err = bulk.EnqueueBatch(ctx, items)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		t.Fatal("a bulk batch with Redis down did not return within 30 s")
	}
	if !errors.Is(err, ErrRedis) {
		t.Fatalf("err %v, want ErrRedis", err)
	}
	for i := range done {
		if done[i] {
			t.Fatalf("item %d done with Redis down", i)
		}
	}
}
