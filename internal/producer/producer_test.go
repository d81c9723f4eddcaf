package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

func setup(t *testing.T, s *redistest.Server) (*Producer, *redis.Client, *asynq.Inspector) {
	t.Helper()
	db := s.FreshDB(t)
	cfg := itest.Config(t, s.URL(db), "http://127.0.0.1:1", nil)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.Addr, DB: db})
	t.Cleanup(func() { _ = in.Close() })
	return New(cfg, asynq.NewClientFromRedisClient(rdb), rdb), rdb, in
}

func record(i int, key string) tasks.RecordCreate {
	return tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Key: key}
}

func TestValidationAgainstConfig(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, _, _ := setup(t, s)
	ctx := context.Background()
	cases := []struct {
		name  string
		run   func() error
		field string
	}{
		{"unknown endpoint", func() error {
			_, err := p.Record(ctx, tasks.RecordCreate{Endpoint: "nope", Table: "a/b", Data: json.RawMessage(`{}`)})
			return err
		}, "endpoint"},
		{"record to sms endpoint", func() error {
			_, err := p.Record(ctx, tasks.RecordCreate{Endpoint: "sms", Table: "a/b", Data: json.RawMessage(`{}`)})
			return err
		}, "endpoint"},
		{"sms to record endpoint", func() error {
			_, err := p.SMS(ctx, tasks.SMSSend{Endpoint: "forms", Phones: []string{"13800000000"}, Content: "x"})
			return err
		}, "endpoint"},
		{"table form of the vendor", func() error {
			_, err := p.Record(ctx, tasks.RecordCreate{Endpoint: "tables", Table: "a/b", Data: json.RawMessage(`{}`)})
			return err
		}, "table"},
	}
	for _, c := range cases {
		err := c.run()
		var fe *tasks.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("%s: got %v, want a FieldError on %s", c.name, err, c.field)
		}
	}
}

func TestBatchDuplicatesAndMarkers(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, rdb, in := setup(t, s)
	ctx := context.Background()
	if _, err := p.Record(ctx, record(0, "queued")); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, keys.Dedupe("forms", "finished"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	var items []Item
	for i, key := range []string{"queued", "finished", "new-1", "", "new-1"} {
		task, err := p.PrepareRecord(record(i, key))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{Task: task, Endpoint: "forms", Key: key})
	}
	res, done, err := p.EnqueueBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, false, true} // duplicate?
	for i, r := range res {
		if !done[i] || r.Duplicate != want[i] || r.TaskID == "" {
			t.Errorf("item %d: %+v done=%v, want duplicate=%v", i, r, done[i], want[i])
		}
	}
	if qi, _ := in.GetQueueInfo("forms"); qi.Pending != 3 {
		t.Fatalf("pending %d, want 3 (queued, new-1, the unkeyed one)", qi.Pending)
	}
}

// Redis dying mid-batch: the error says so (ErrRedis) and done[] tells the
// caller exactly which items went in, so a retry resends only the rest.
func TestBatchReportsWhatWentInWhenRedisDies(t *testing.T) {
	s := redistest.MustStart(t, redistest.Options{})
	p, _, _ := setup(t, s)
	ctx := context.Background()
	var items []Item
	for i := 0; i < 3; i++ {
		task, _ := p.PrepareRecord(record(i, fmt.Sprintf("k%d", i)))
		items = append(items, Item{Task: task, Endpoint: "forms", Key: fmt.Sprintf("k%d", i)})
	}
	s.Crash()
	res, done, err := p.EnqueueBatch(ctx, items)
	if !errors.Is(err, ErrRedis) {
		t.Fatalf("want ErrRedis, got %v", err)
	}
	for i := range res {
		if done[i] {
			t.Fatalf("item %d reported done with Redis down", i)
		}
	}
}
