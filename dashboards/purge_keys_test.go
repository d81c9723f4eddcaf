package dashboards_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/keys"
)

// The dashboard's purge unblocks the purged tasks' keys, as `enqueue dlq
// purge` does: their dedupe markers go with them, other endpoints' stay.
func TestDashboardPurgeClearsDedupeMarkers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	dead := addDead(t, f.store, "forms", 3)
	other := addDead(t, f.store, "sms", 1)
	for _, e := range append(dead, other...) {
		if err := f.rdb.Set(ctx, keys.Dedupe(e.Endpoint, e.ID), "1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	token := f.csrf(t)
	if code, body := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "endpoint": "forms", "confirm": "yes"}, nil); code != http.StatusSeeOther {
		t.Fatalf("purge: %d %s", code, body)
	}
	for _, e := range dead {
		if n, err := f.rdb.Exists(ctx, keys.Dedupe("forms", e.ID)).Result(); err != nil || n != 0 {
			t.Errorf("dedupe marker of purged %s left (%d, %v)", e.ID, n, err)
		}
	}
	if n, _ := f.rdb.Exists(ctx, keys.Dedupe("sms", other[0].ID)).Result(); n != 1 {
		t.Error("purging forms deleted a dedupe marker of sms")
	}
}
