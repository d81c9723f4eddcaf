package dlq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/clustertest"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
)

// On a real cluster a purge clears markers that live on every node (they
// carry no hash tag): no cross-slot command.
func TestPurgeOnCluster(t *testing.T) {
	c := clustertest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := dlq.New(rdb)
	const n = 600
	slots := map[int64]bool{}
	for i := range n {
		id := fmt.Sprintf("k-%d", i)
		now := time.Now()
		if err := s.Add(ctx, dlq.Entry{ID: id, Type: "record:create", Endpoint: "forms", FirstAttempt: now, LastAttempt: now, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, keys.Dedupe("forms", id), "1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if i < 20 {
			slot, err := rdb.ClusterKeySlot(ctx, keys.Dedupe("forms", id)).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots[slot] = true
		}
	}
	if len(slots) < 2 {
		t.Fatalf("markers in %d slot(s): the test would not cross slots", len(slots))
	}
	got, err := s.Purge(ctx, "forms")
	if err != nil || got != n {
		t.Fatalf("purged %d, %v; want %d", got, err, n)
	}
	for i := range n {
		if ex, err := rdb.Exists(ctx, keys.Dedupe("forms", fmt.Sprintf("k-%d", i))).Result(); err != nil || ex != 0 {
			t.Fatalf("marker k-%d left (%d, %v)", i, ex, err)
		}
	}
	if ok, err := s.PurgeOne(ctx, "forms", "k-1", dlq.PurgeOptions{}); err != nil || ok {
		t.Fatalf("purge one after purge: %v %v", ok, err)
	}

	// The facet scripts build their set keys from the endpoint's tag: one
	// slot, no CROSSSLOT, on both endpoints' nodes.
	var es []dlq.Entry
	for i := range 300 {
		now := time.Now()
		ep := []string{"forms", "tables"}[i%2]
		es = append(es, dlq.Entry{ID: fmt.Sprintf("c-%d", i), Type: "record:create", Endpoint: ep, Class: "permanent",
			Code: []string{"4001", "409"}[i%3%2], FirstAttempt: now, LastAttempt: now, Payload: []byte(`{}`)})
	}
	if err := s.AddMany(ctx, es); err != nil {
		t.Fatal(err)
	}
	gs, err := s.CountBy(ctx, dlq.Filter{}, dlq.ByCode)
	if err != nil || len(gs) != 2 || gs[0] != (dlq.Group{Key: "4001", Count: 200}) {
		t.Fatalf("count by code on a cluster: %v, %v", gs, err)
	}
	p, err := s.ListFiltered(ctx, dlq.Filter{Codes: []string{"409"}}, "", 60)
	if err != nil || len(p.Entries) != 60 || p.Next == "" {
		t.Fatalf("list on a cluster: %d, %q, %v", len(p.Entries), p.Next, err)
	}
	if n, err := s.PurgeFilter(ctx, dlq.Filter{Codes: []string{"409"}}, dlq.PurgeOptions{}); err != nil || n != 100 {
		t.Fatalf("purge by code on a cluster: %d, %v", n, err)
	}
	if n, err := s.Reindex(ctx, "tables"); err != nil || n != 0 {
		t.Fatalf("reindex on a cluster: %d, %v", n, err)
	}
}
