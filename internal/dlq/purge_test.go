package dlq

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// markers sets the dedupe marker of entries from..to-1 (as the worker
// does when it dead-letters a keyed task).
func markers(t *testing.T, rdb redis.UniversalClient, ep string, from, to int) {
	t.Helper()
	pipe := rdb.Pipeline()
	for i := from; i < to; i++ {
		pipe.Set(context.Background(), keys.Dedupe(ep, entry(i).ID), "1", time.Hour)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func markersLeft(t *testing.T, rdb redis.UniversalClient, ep string, from, to int) int {
	t.Helper()
	left := 0
	for i := from; i < to; i++ {
		n, err := rdb.Exists(context.Background(), keys.Dedupe(ep, entry(i).ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		left += int(n)
	}
	return left
}

// A purge of more entries than one batch removes them all and their
// markers; a marker of a task that is not a dead letter (it succeeded)
// stays.
func TestPurgeClearsDedupeMarkers(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	const n = 2*purgeBatch + 7
	for i := 0; i < n; i++ {
		if err := s.Add(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	markers(t, rdb, "forms", 0, n+3) // n..n+2: succeeded tasks, no entry
	got, err := s.Purge(ctx, "forms")
	if err != nil || got != n {
		t.Fatalf("purged %d, %v; want %d", got, err, n)
	}
	if c, _ := s.Count(ctx, "forms"); c != 0 {
		t.Fatalf("%d entries left", c)
	}
	if hl, _ := rdb.HLen(ctx, keys.DLQEntries("forms")).Result(); hl != 0 {
		t.Fatalf("%d entries left in the hash", hl)
	}
	if left := markersLeft(t, rdb, "forms", 0, n); left != 0 {
		t.Fatalf("%d dedupe markers of purged tasks left", left)
	}
	if left := markersLeft(t, rdb, "forms", n, n+3); left != 3 {
		t.Fatalf("purge deleted markers of tasks that were not dead letters: %d of 3 left", left)
	}
	if got, err := s.Purge(ctx, "forms"); err != nil || got != 0 {
		t.Fatalf("purge of nothing: %d, %v", got, err)
	}
}

func TestPurgeKeepKeys(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.Add(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	markers(t, rdb, "forms", 0, 3)
	if got, err := s.PurgeWith(ctx, "forms", PurgeOptions{KeepKeys: true}); err != nil || got != 3 {
		t.Fatalf("purged %d, %v", got, err)
	}
	if left := markersLeft(t, rdb, "forms", 0, 3); left != 3 {
		t.Fatalf("KeepKeys: %d of 3 markers left", left)
	}
}

func TestPurgeOne(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.Add(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	markers(t, rdb, "forms", 0, 4)
	if ok, err := s.PurgeOne(ctx, "forms", entry(0).ID, PurgeOptions{}); err != nil || !ok {
		t.Fatalf("purge one: %v %v", ok, err)
	}
	if left := markersLeft(t, rdb, "forms", 0, 1); left != 0 {
		t.Fatal("purge one kept the marker")
	}
	if ok, err := s.PurgeOne(ctx, "forms", entry(1).ID, PurgeOptions{KeepKeys: true}); err != nil || !ok {
		t.Fatalf("purge one, keep keys: %v %v", ok, err)
	}
	if left := markersLeft(t, rdb, "forms", 1, 2); left != 1 {
		t.Fatal("KeepKeys: purge one deleted the marker")
	}
	// No dead letter with that id: its marker (a task that succeeded) stays.
	if ok, err := s.PurgeOne(ctx, "forms", entry(3).ID, PurgeOptions{}); err != nil || ok {
		t.Fatalf("purge one of no entry: %v %v, want false, nil", ok, err)
	}
	if left := markersLeft(t, rdb, "forms", 3, 4); left != 1 {
		t.Fatal("purge one of no entry deleted a marker")
	}
	if c, _ := s.Count(ctx, "forms"); c != 1 {
		t.Fatalf("%d entries left, want 1", c)
	}
}
