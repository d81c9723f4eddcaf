package dashdeps

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/dlq"
)

// A store built without an enqueuer refuses replays before touching Redis
// (the client below points nowhere and is never dialled).
func TestReplayWithoutEnqueuerIsReadOnly(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	s := DeadLetters(dlq.New(rdb), nil)
	if _, err := s.ReplayOne(context.Background(), "forms", "id-1"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("ReplayOne: %v, want ErrReadOnly", err)
	}
	if _, err := s.ReplayAll(context.Background(), "forms"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("ReplayAll: %v, want ErrReadOnly", err)
	}
}
