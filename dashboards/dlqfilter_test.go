package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/tasks"
)

// addCoded stores on forms n dead letters per code of codes (newest: the
// first code's), one a minute back from now, each error naming its code.
func addCoded(t *testing.T, store *dlq.Store, n int, codes ...string) {
	t.Helper()
	now := time.Now()
	var es []dlq.Entry
	for ci, code := range codes {
		for i := range n {
			k := ci*n + i
			at := now.Add(-time.Duration(k+1) * time.Minute)
			p, _ := json.Marshal(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(fmt.Sprintf(`{"k":%d}`, k))})
			es = append(es, dlq.Entry{ID: fmt.Sprintf("f-%s-%03d", code, i), Type: tasks.TypeRecordCreate, Endpoint: "forms", Class: "permanent",
				Code: code, Error: "baibaoyun: permanent code=" + code + ": field renamed", Attempts: 1, FirstAttempt: at, LastAttempt: at, Payload: p})
		}
	}
	if err := store.AddMany(context.Background(), es); err != nil {
		t.Fatal(err)
	}
}

var nextRe = regexp.MustCompile(`id="dlq-next" href="([^"]+)"`)

// The view filters by code, counts per code, pages forward and back by
// cursor, and replays and purges by filter behind the CSRF token; a bad
// filter field is a 400 naming it; a purge by filter needs a filter.
func TestDLQViewFiltersPagesAndActs(t *testing.T) {
	f := newFixture(t, nil)
	addCoded(t, f.store, 12, "4001", "4002")
	code, body := f.get(t, "/dlq?code=4002&limit=5")
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, body)
	}
	for _, want := range []string{`id="dlq-filter"`, `data-code="4001">12<`, `data-code="4002">12<`, "<b>12</b> dead letter(s) match", "f-4002-000", `id="dlq-next"`} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered page lacks %q", want)
		}
	}
	if strings.Contains(body, "f-4001-") || strings.Contains(body, `id="dlq-prev"`) {
		t.Error("page 1 of code 4002 shows a 4001 or a previous link")
	}
	m := nextRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no next link")
	}
	_, body2 := f.get(t, html.UnescapeString(m[1]))
	if !strings.Contains(body2, "f-4002-005") || strings.Contains(body2, "f-4002-004") || !strings.Contains(body2, `id="dlq-prev"`) || !strings.Contains(body2, "page 2,") {
		t.Fatalf("page 2 is not entries 5-9:\n%.3000s", body2)
	}
	prev := regexp.MustCompile(`id="dlq-prev" href="([^"]+)"`).FindStringSubmatch(body2)
	if _, body1 := f.get(t, html.UnescapeString(prev[1])); !strings.Contains(body1, "f-4002-000") || !strings.Contains(body1, "page 1,") {
		t.Fatal("previous of page 2 is not page 1")
	}
	if code, body := f.get(t, "/dlq?class=fatal"); code != http.StatusBadRequest || !strings.Contains(body, `id="dlq-error"`) || !strings.Contains(body, "class:") {
		t.Fatalf("bad class: %d %.2000s", code, body)
	}

	token := f.csrf(t)
	form := map[string]string{"csrf": token, "scope": "filter", "code": "4002", "since": "8m"}
	code, _ = f.postForm(t, "/dlq/replay", form, nil)
	if n, _ := f.store.Total(ctxT(t), dlq.Filter{Codes: []string{"4002"}}); code != http.StatusSeeOther || n != 12 {
		// 4002's entries died 13 to 24 minutes ago: none since 8m.
		t.Fatalf("replay of none: %d, %d left", code, n)
	}
	form["since"] = "18m30s" // 13..18 minutes ago: 6 (30 s from the nearest entry either side)
	code, _ = f.postForm(t, "/dlq/replay", form, nil)
	if n, _ := f.store.Total(ctxT(t), dlq.Filter{Codes: []string{"4002"}}); code != http.StatusSeeOther || n != 6 {
		t.Fatalf("replay by filter: %d, %d of 4002 left, want 6", code, n)
	}
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "scope": "filter", "code": "4001"}, nil); code != http.StatusBadRequest {
		t.Fatalf("purge by filter without confirmation: %d", code)
	}
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "scope": "filter", "confirm": "yes"}, nil); code != http.StatusBadRequest {
		t.Fatalf("purge by an empty filter: %d", code)
	}
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"scope": "filter", "code": "4001", "confirm": "yes"}, nil); code != http.StatusForbidden {
		t.Fatalf("purge by filter without a token: %d", code)
	}
	if code, _ := f.postForm(t, "/dlq/purge", map[string]string{"csrf": token, "scope": "filter", "code": "4001", "confirm": "yes"}, nil); code != http.StatusSeeOther {
		t.Fatalf("purge by filter: %d", code)
	}
	if n, _ := f.store.Total(ctxT(t), dlq.Filter{}); n != 6 {
		t.Fatalf("%d left after purge, want 6", n)
	}
}

// In headless Chromium, an operator filters the dead letters by code with
// the form, pages on with Next, and replays the filtered ones with the
// button (the CSRF token travels in the form); the page then says how many
// went back and the store holds only the other code. A screenshot of the
// filtered view goes to docs/dlq-filters.png with VENDORQ_UPDATE_DOCS=1.
func TestBrowserDLQFilterPageReplay(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t, nil)
	addCoded(t, f.store, 30, "4001", "4010", "9999")
	c := startCDP(t, bin)
	ctx := context.Background()
	c.navigate(f.http.URL + "/dlq?limit=20")
	c.waitEval(ctx, 20*time.Second, "the filter form", `document.readyState === "complete" && document.getElementById("dlq-filter") && true || null`, nil)
	// Type the code and submit, as a user does.
	if err := c.eval(`(() => { const f = document.getElementById("dlq-filter"); f.code.value = "4010"; f.since.value = "2h"; document.getElementById("dlq-apply").click(); return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		IDs      []string `json:"ids"`
		Matching string   `json:"matching"`
		Next     bool     `json:"next"`
	}
	rows := `[...document.querySelectorAll("#dlq-entries tr td:nth-child(3) code")].map(c => c.textContent)`
	c.waitEval(ctx, 20*time.Second, "the view filtered by code 4010", `(() => { if (!location.search.includes("code=4010") || document.readyState !== "complete") return null;
		return {ids: `+rows+`, matching: document.querySelector("#dlq-matching b").textContent, next: !!document.getElementById("dlq-next")}; })()`, &shown)
	if len(shown.IDs) != 20 || shown.Matching != "30" || !shown.Next {
		t.Fatalf("filtered page 1: %+v", shown)
	}
	for _, id := range shown.IDs {
		if !strings.HasPrefix(id, "f-4010-") {
			t.Fatalf("page 1 shows %s", id)
		}
	}
	dir := t.TempDir()
	if os.Getenv("VENDORQ_UPDATE_DOCS") != "" {
		dir = filepath.Join("..", "docs")
	}
	shot := filepath.Join(dir, "dlq-filters.png")
	cdpScreenshot(t, c, shot)
	if err := c.eval(`(document.getElementById("dlq-next").click(), true)`, nil); err != nil {
		t.Fatal(err)
	}
	c.waitEval(ctx, 20*time.Second, "page 2", `(() => { if (!location.search.includes("after=") || document.readyState !== "complete") return null;
		return {ids: `+rows+`, matching: document.querySelector("#dlq-matching b").textContent, next: !!document.getElementById("dlq-next")}; })()`, &shown)
	if len(shown.IDs) != 10 || shown.Next || shown.IDs[0] != "f-4010-020" {
		t.Fatalf("page 2: %+v", shown)
	}
	if err := c.eval(`(document.querySelector("#dlq-replay-filter button").click(), true)`, nil); err != nil {
		t.Fatal(err)
	}
	var note string
	c.waitEval(ctx, 20*time.Second, "the replay's note", `(() => { const n = document.querySelector(".note"); return document.readyState === "complete" && n && n.textContent || null; })()`, &note)
	if !strings.Contains(note, "Replayed 30 task(s)") {
		t.Fatalf("after the replay: %q", note)
	}
	if n, _ := f.store.Total(ctx, dlq.Filter{Codes: []string{"4010"}}); n != 0 {
		t.Fatalf("%d of code 4010 left", n)
	}
	if n, _ := f.store.Total(ctx, dlq.Filter{}); n != 60 {
		t.Fatalf("%d left, want the 60 of the other codes", n)
	}
	qi, err := insp(t, f).GetQueueInfo(tasks.Queue("forms", tasks.PriorityDefault))
	if err != nil || qi.Pending != 30 {
		t.Fatalf("queue after the replay: %+v %v", qi, err)
	}
}

// cdpScreenshot saves the page as a PNG (Page.captureScreenshot).
func cdpScreenshot(t *testing.T, c *cdp, file string) {
	t.Helper()
	var r struct{ Data []byte }
	c.call(c.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	if len(r.Data) < 10_000 || !strings.HasPrefix(string(r.Data), "\x89PNG") {
		t.Fatalf("screenshot: %d bytes", len(r.Data))
	}
	if err := os.WriteFile(file, r.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}
