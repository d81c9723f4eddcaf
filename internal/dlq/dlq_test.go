package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

var srv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &srv) }

func setup(t *testing.T) (*Store, *redis.Client, *asynq.Client, *asynq.Inspector) {
	db := srv.FreshDB(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = rdb.Close() })
	opt := asynq.RedisClientOpt{Addr: srv.Addr, DB: db}
	c := asynq.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	in := asynq.NewInspector(opt)
	t.Cleanup(func() { _ = in.Close() })
	return New(rdb), rdb, c, in
}

func entry(i int) Entry {
	now := time.Now()
	p, _ := json.Marshal(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
	return Entry{
		ID: fmt.Sprintf("t%05d", i), Type: tasks.TypeRecordCreate, Endpoint: "forms", Error: "baibaoyun: permanent code=4001",
		Class: "permanent", Code: "4001", Attempts: 1, FirstAttempt: now, LastAttempt: now.Add(time.Duration(i) * time.Millisecond), Payload: p,
	}
}

func TestAddListCountGetRemove(t *testing.T) {
	s, _, _, _ := setup(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if err := s.Add(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Idempotent per id: a task that dies twice keeps one entry.
	if err := s.Add(ctx, entry(4)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx, "forms"); n != 5 {
		t.Fatalf("count %d", n)
	}
	es, err := s.List(ctx, "forms", 0, 2)
	if err != nil || len(es) != 2 || es[0].ID != "t00004" || es[1].ID != "t00003" {
		t.Fatalf("newest first: %+v %v", es, err)
	}
	if es[0].Code != "4001" || es[0].Type != tasks.TypeRecordCreate || len(es[0].Payload) == 0 {
		t.Fatalf("entry fields lost: %+v", es[0])
	}
	if eps, _ := s.Endpoints(ctx); len(eps) != 1 || eps[0] != "forms" {
		t.Fatalf("endpoints %v", eps)
	}
	if _, err := s.Get(ctx, "forms", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if ok, _ := s.Remove(ctx, "forms", "t00000"); !ok {
		t.Fatal("remove existing")
	}
	if ok, _ := s.Remove(ctx, "forms", "t00000"); ok {
		t.Fatal("remove twice")
	}
	if n, _ := s.Purge(ctx, "forms"); n != 4 {
		t.Fatalf("purged %d", n)
	}
	if n, _ := s.Count(ctx, "forms"); n != 0 {
		t.Fatalf("after purge %d", n)
	}
}

// Far beyond asynq's 10,000-task archive cap, nothing is trimmed, and a
// scan that removes entries as it goes (replay) still visits every one.
func TestUnboundedAndReplayAll(t *testing.T) {
	s, rdb, c, in := setup(t)
	ctx := context.Background()
	const n = 12000
	es := make([]Entry, n)
	for i := range es {
		es[i] = entry(i)
	}
	addAll(t, rdb, es)
	if got, _ := s.Count(ctx, "forms"); got != n {
		t.Fatalf("count %d, want %d", got, n)
	}
	// A done marker must not make the replayed task look like a duplicate.
	if err := rdb.Set(ctx, keys.Dedupe("forms", "t00007"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	replayed, err := s.ReplayAll(ctx, c, "forms")
	if err != nil || replayed != int64(n) {
		t.Fatalf("replayed %d of %d: %v", replayed, n, err)
	}
	if got, _ := s.Count(ctx, "forms"); got != 0 {
		t.Fatalf("%d entries left after replay", got)
	}
	qi, err := in.GetQueueInfo("forms")
	if err != nil || qi.Pending != n {
		t.Fatalf("queue has %+v, want %d pending: %v", qi, n, err)
	}
	if ex, _ := rdb.Exists(ctx, keys.Dedupe("forms", "t00007")).Result(); ex != 0 {
		t.Fatal("replay must clear the dedupe marker")
	}
	// Replaying an entry whose task is already queued removes the entry.
	e := entry(1)
	if err := s.Add(ctx, e); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ReplayOne(ctx, c, "forms", e.ID); err != nil || !ok {
		t.Fatalf("replay onto an existing id: %v %v", ok, err)
	}
	if got, _ := s.Count(ctx, "forms"); got != 0 {
		t.Fatal("entry kept after replay conflict")
	}
	if ok, err := s.ReplayOne(ctx, c, "forms", "no-such-id"); err != nil || ok {
		t.Fatalf("replay of an unknown id: %v %v, want false, nil", ok, err)
	}
}

func TestReplayKeepsEntryWhenEnqueueFails(t *testing.T) {
	s, _, _, _ := setup(t)
	ctx := context.Background()
	e := entry(1)
	if err := s.Add(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Replay(ctx, failing{}, e); err == nil {
		t.Fatal("want error")
	}
	if n, _ := s.Count(ctx, "forms"); n != 1 {
		t.Fatal("entry removed although the task was not re-enqueued")
	}
}

type failing struct{}

func (failing) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return nil, errors.New("redis down")
}
