package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
)

// The asynq keys vendorq reads are where asynq writes them: a pending, a
// scheduled and an archived task on a lane queue, written by asynq's own
// client and inspector, are found under keys.AsynqTask and
// keys.AsynqQueue.
func TestAsynqKeysAreAsynqs(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.Addr})
	t.Cleanup(func() { _ = in.Close() })
	ctx := context.Background()
	const q = "forms:high"
	for _, tc := range []struct {
		id   string
		opts []asynq.Option
	}{
		{"p1", nil}, {"p2", nil}, {"s1", []asynq.Option{asynq.ProcessIn(time.Hour)}}, {"a1", nil},
	} {
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("record:create", nil), append(tc.opts, asynq.Queue(q), asynq.TaskID(tc.id))...); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.ArchiveTask(q, "a1"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2", "s1", "a1"} {
		if n, err := rdb.Exists(ctx, keys.AsynqTask(q, id)).Result(); err != nil || n != 1 {
			t.Errorf("%s: no hash at %s (%v)", id, keys.AsynqTask(q, id), err)
		}
	}
	if n, _ := rdb.Exists(ctx, keys.AsynqTask("forms", "p1")).Result(); n != 0 {
		t.Error("a task of forms:high found under the queue forms")
	}
	if ids, err := rdb.LRange(ctx, keys.AsynqQueue(q, "pending"), 0, -1).Result(); err != nil || len(ids) != 2 || ids[1] != "p1" {
		t.Errorf("pending list %v (%v), want [p2 p1]: the oldest at the tail", ids, err)
	}
	if since, err := rdb.HGet(ctx, keys.AsynqTask(q, "p1"), "pending_since").Int64(); err != nil || time.Since(time.Unix(0, since)) > time.Minute {
		t.Errorf("pending_since of p1: %d (%v), want Unix ns of its enqueue", since, err)
	}
	for suffix, want := range map[string]int64{"scheduled": 1, "archived": 1, "retry": 0, "completed": 0} {
		if n, err := rdb.ZCard(ctx, keys.AsynqQueue(q, suffix)).Result(); err != nil || n != want {
			t.Errorf("ZCARD %s = %d (%v), want %d", keys.AsynqQueue(q, suffix), n, err, want)
		}
	}
	if err := in.PauseQueue(q); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, keys.AsynqQueue(q, "paused")).Result(); n != 1 {
		t.Errorf("no %s while the queue is paused", keys.AsynqQueue(q, "paused"))
	}
}
