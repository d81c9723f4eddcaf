package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/dlq"
)

// In real headless Chromium, asynqmon's page of `worker --dev` shows the
// dead-letter bar above its queue table (not over it), linking to /dlq, and
// the open page picks up a new dead letter by itself. Bound: the page
// refreshes every 15 s; the test waits 30 s.
func TestBrowserMonitoringBarCountsDeadLetters(t *testing.T) {
	bin := chromium(t)
	w := startDevWorker(t)
	c := startCDP(t, bin)
	ctx := context.Background()
	c.navigate(w.base + "/monitoring/")
	var shown struct {
		N         string  `json:"n"`
		Href      string  `json:"href"`
		BarBottom float64 `json:"barBottom"`
		TableTop  float64 `json:"tableTop"`
	}
	c.waitEval(ctx, 30*time.Second, "the dead-letter bar and asynqmon's queue table", `(() => {
		const n = document.getElementById("vendorq-dlq-n");
		const row = [...document.querySelectorAll("tr")].find(r => r.cells.length > 1 && r.cells[0].textContent.trim() === "forms");
		if (!n || !row) return null;
		const b = document.getElementById("vendorq-dlq-bar").getBoundingClientRect(), tb = row.closest("table").getBoundingClientRect();
		return {n: n.textContent, href: n.closest("a").getAttribute("href"), barBottom: b.bottom, tableTop: tb.top}; })()`, &shown)
	var before int
	if _, err := fmt.Sscan(shown.N, &before); err != nil || before < 1 || shown.Href != "/dlq" {
		t.Fatalf("the bar shows %q linking to %q; want the demo's dead letter(s) and /dlq", shown.N, shown.Href)
	}
	if shown.BarBottom > shown.TableTop {
		t.Errorf("the bar (bottom %.0f) covers asynqmon's queue table (top %.0f)", shown.BarBottom, shown.TableTop)
	}

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: w.db})
	defer rdb.Close()
	payload, _ := json.Marshal(map[string]any{"table": "t", "data": map[string]int{"a": 1}})
	now := time.Now()
	if err := dlq.New(rdb).Add(ctx, dlq.Entry{
		ID: "browser-dead-1", Type: "record:create", Endpoint: "forms", Error: "test", Class: "permanent", Code: "4001",
		Attempts: 1, FirstAttempt: now, LastAttempt: now, Payload: payload,
	}); err != nil {
		t.Fatal(err)
	}
	c.waitEval(ctx, 30*time.Second, "the open page's bar counting the new dead letter",
		fmt.Sprintf(`parseInt(document.getElementById("vendorq-dlq-n").textContent) > %d || null`, before), nil)
	w.stop(t)
}
