package redistest

import (
	"context"
	"testing"
	"time"
)

func TestStartFreshDBRestart(t *testing.T) {
	s := MustStart(t, Options{AOF: true})
	db := s.FreshDB(t)
	c := s.Client(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if db2 := s.FreshDB(t); db2 == db {
		t.Fatalf("FreshDB handed out %d twice", db)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("after AOF restart: got %q, %v; want v", got, err)
	}
}
