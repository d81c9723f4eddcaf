package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

func addAll(t testing.TB, rdb redis.UniversalClient, es []Entry) {
	t.Helper()
	if err := New(rdb).AddMany(context.Background(), es); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// mixed is n entries over two endpoints, five codes (two classes), both
// types and a minute per entry, with runs of equal dead times (ties in the
// listing order) and an error text naming the code.
func mixed(n int) []Entry {
	codes := []string{"4001", "4002", "9999", "phone_cap", "a|b%c"}
	var out []Entry
	for i := range n {
		ep := []string{"forms", "sms"}[i%2]
		typ := tasks.TypeRecordCreate
		if ep == "sms" && i%3 != 0 {
			typ = tasks.TypeSMSSend
		}
		code := codes[i%len(codes)]
		class := "permanent"
		if code == "9999" {
			class = "transient"
		}
		at := t0.Add(time.Duration(i/4) * time.Minute) // four entries per minute: ties
		p, _ := json.Marshal(map[string]any{"endpoint": ep, "i": i})
		out = append(out, Entry{
			ID: fmt.Sprintf("id-%04d", (i*7919)%n), Type: typ, Endpoint: ep, Class: class, Code: code,
			Error: fmt.Sprintf("vendor said code=%s (row %d)", code, i), Attempts: 1, FirstAttempt: at, LastAttempt: at, Payload: p,
		})
	}
	return out
}

// expect is what a filter selects, brute force, in listing order.
func expect(es []Entry, f Filter) []Entry {
	var out []Entry
	for _, e := range es {
		ms := e.LastAttempt.UnixMilli()
		switch {
		case len(f.Endpoints) > 0 && !slices.Contains(f.Endpoints, e.Endpoint),
			len(f.Codes) > 0 && !slices.Contains(f.Codes, e.Code),
			f.Class != "" && e.Class != f.Class, f.Type != "" && e.Type != f.Type,
			!f.Since.IsZero() && ms < f.Since.UnixMilli(), !f.Until.IsZero() && ms >= f.Until.UnixMilli(),
			f.Grep != "" && !strings.Contains(strings.ToLower(e.Error), strings.ToLower(f.Grep)):
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		return before(pos{out[i].LastAttempt.UnixMilli(), out[i].ID, out[i].Endpoint}, pos{out[j].LastAttempt.UnixMilli(), out[j].ID, out[j].Endpoint})
	})
	return out
}

func ids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Endpoint + "/" + e.ID
	}
	return out
}

var filterCases = []struct {
	name string
	f    Filter
}{
	{"everything", Filter{}},
	{"one endpoint", Filter{Endpoints: []string{"sms"}}},
	{"one code", Filter{Codes: []string{"4001"}}},
	{"two codes, one endpoint", Filter{Codes: []string{"4002", "phone_cap"}, Endpoints: []string{"forms"}}},
	{"a code with | and %", Filter{Codes: []string{"a|b%c"}}},
	{"class", Filter{Class: "transient"}},
	{"type", Filter{Type: tasks.TypeSMSSend}},
	{"since", Filter{Since: t0.Add(10 * time.Minute)}},
	{"until", Filter{Until: t0.Add(7 * time.Minute)}},
	{"code and range", Filter{Codes: []string{"4001"}, Since: t0.Add(5 * time.Minute), Until: t0.Add(30 * time.Minute)}},
	{"grep", Filter{Grep: "ROW 1"}},
	{"grep and class", Filter{Grep: "row 2", Class: "permanent"}},
	{"nothing (unknown code)", Filter{Codes: []string{"0000"}}},
	{"nothing (empty range)", Filter{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}},
}

// Every filter, paged 7 at a time through cursors, lists exactly what a
// brute-force filter of the same entries gives, in the same order (ties at
// one dead time included), and counts the same.
func TestListFilteredPagesMatchBruteForce(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	es := mixed(200)
	addAll(t, rdb, es)
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			want := ids(expect(es, tc.f))
			var got []string
			var cur Cursor
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				p, err := s.ListFiltered(ctx, tc.f, cur, 7)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Entries) > 7 {
					t.Fatalf("page of %d", len(p.Entries))
				}
				got = append(got, ids(p.Entries)...)
				if p.Next == "" {
					break
				}
				cur = p.Next
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("listed %d:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
			}
			n, err := s.Total(ctx, tc.f)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("total %d, %v; want %d", n, err, len(want))
			}
		})
	}
}

func TestCountBy(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	es := mixed(200)
	addAll(t, rdb, es)
	for _, tc := range filterCases {
		for _, by := range Groupings {
			want := map[string]int64{}
			if by == ByEndpoint {
				for _, ep := range []string{"forms", "sms"} {
					if len(tc.f.Endpoints) == 0 || slices.Contains(tc.f.Endpoints, ep) {
						want[ep] = 0
					}
				}
			}
			for _, e := range expect(es, tc.f) {
				want[groupOf(by, e.Endpoint, Facet{Class: e.Class, Type: e.Type, Code: e.Code})]++
			}
			gs, err := s.CountBy(ctx, tc.f, by)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for i, g := range gs {
				got[g.Key] = g.Count
				if i > 0 && gs[i-1].Count < g.Count {
					t.Fatalf("%s by %s: not largest first: %v", tc.name, by, gs)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s by %s: %v, want %v", tc.name, by, got, want)
			}
		}
	}
	if _, err := s.CountBy(ctx, Filter{}, "phase"); !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), "by:") {
		t.Fatalf("count by phase: %v", err)
	}
}

// A cursor is a position: entries added after the first page was read,
// newer or older than it, neither repeat nor shift what follows; the older
// ones show up on later pages.
func TestCursorStableUnderInserts(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	es := mixed(40)
	addAll(t, rdb, es)
	f := Filter{Endpoints: []string{"forms"}}
	p1, err := s.ListFiltered(ctx, f, "", 5)
	if err != nil || len(p1.Entries) != 5 || p1.Next == "" {
		t.Fatalf("page 1: %d entries, next %q, %v", len(p1.Entries), p1.Next, err)
	}
	newer := Entry{ID: "zz-newer", Type: tasks.TypeRecordCreate, Endpoint: "forms", Code: "4001", Class: "permanent", LastAttempt: t0.Add(time.Hour), Payload: []byte(`{}`)}
	older := Entry{ID: "aa-older", Type: tasks.TypeRecordCreate, Endpoint: "forms", Code: "4001", Class: "permanent", LastAttempt: t0.Add(-time.Hour), Payload: []byte(`{}`)}
	// Same dead time as page 1's last entry, ordered before it (a larger id): not on page 2.
	last := p1.Entries[4]
	tieBefore := Entry{ID: last.ID + "~", Type: tasks.TypeRecordCreate, Endpoint: "forms", Code: "4001", Class: "permanent", LastAttempt: last.LastAttempt, Payload: []byte(`{}`)}
	addAll(t, rdb, []Entry{newer, older, tieBefore})
	var rest []string
	for cur := p1.Next; cur != ""; {
		p, err := s.ListFiltered(ctx, f, cur, 5)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, ids(p.Entries)...)
		cur = p.Next
	}
	want := ids(expect(append(es, older), f))[5:]
	if strings.Join(rest, " ") != strings.Join(want, " ") {
		t.Fatalf("after page 1:\n%v\nwant\n%v", rest, want)
	}
}

// Ties far beyond one fetch: 1,200 entries dead in the same millisecond
// page in id order without loss or repeat.
func TestPagingManyTies(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	var es []Entry
	for i := range 1200 {
		es = append(es, Entry{ID: fmt.Sprintf("t%04d", i), Type: tasks.TypeRecordCreate, Endpoint: "forms", Code: "4001", Class: "permanent", LastAttempt: t0, Payload: []byte(`{}`)})
	}
	addAll(t, rdb, es)
	seen := map[string]bool{}
	prev := "t9999"
	for cur := Cursor(""); ; {
		p, err := s.ListFiltered(ctx, Filter{Codes: []string{"4001"}}, cur, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			if seen[e.ID] || e.ID >= prev {
				t.Fatalf("%s repeated or out of order after %s", e.ID, prev)
			}
			seen[e.ID], prev = true, e.ID
		}
		if cur = p.Next; cur == "" {
			break
		}
	}
	if len(seen) != 1200 {
		t.Fatalf("listed %d of 1200", len(seen))
	}
}

// A replay by filter puts back exactly the selected entries, on their
// lane's queue, clears their markers, and keeps the indexes consistent.
func TestReplayAndPurgeByFilter(t *testing.T) {
	s, rdb, c, in := setup(t)
	ctx := context.Background()
	es := mixed(1300) // several batches
	addAll(t, rdb, es)
	f := Filter{Codes: []string{"4001"}, Since: t0.Add(20 * time.Minute)}
	want := expect(es, f)
	for _, e := range want[:3] {
		if err := rdb.Set(ctx, keys.Dedupe(e.Endpoint, e.ID), "1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.ReplayFilter(ctx, c, f)
	if err != nil || res.Done != int64(len(want)) || res.Skipped != 0 {
		t.Fatalf("replayed %+v, %v; want %d", res, err, len(want))
	}
	var queued int
	for _, ep := range []string{"forms", "sms"} {
		qi, err := in.GetQueueInfo(tasks.Queue(ep, tasks.PriorityDefault))
		if err != nil {
			t.Fatal(err)
		}
		queued += qi.Pending
	}
	if queued != len(want) {
		t.Fatalf("%d tasks queued, want %d", queued, len(want))
	}
	for _, e := range want[:3] {
		if n, _ := rdb.Exists(ctx, keys.Dedupe(e.Endpoint, e.ID)).Result(); n != 0 {
			t.Fatal("replay kept a dedupe marker")
		}
	}
	if n, _ := s.Total(ctx, f); n != 0 {
		t.Fatalf("%d selected entries left", n)
	}
	left := len(es) - len(want)
	if n, _ := s.Total(ctx, Filter{}); n != int64(left) {
		t.Fatalf("%d entries left, want %d", n, left)
	}
	checkConsistent(t, s, "forms", "sms")

	// Purge with grep: only the texts that match.
	g := Filter{Grep: "code=9999 (row 1"}
	wantP := expect(es, g)
	n, err := s.PurgeFilter(ctx, g, PurgeOptions{})
	if err != nil || n != int64(len(wantP)) || n == 0 {
		t.Fatalf("purged %d, %v; want %d", n, err, len(wantP))
	}
	if n, _ := s.Total(ctx, Filter{}); n != int64(left-len(wantP)) {
		t.Fatalf("%d entries left after purge, want %d", n, left-len(wantP))
	}
	checkConsistent(t, s, "forms", "sms")
	if _, err := s.ReplayFilter(ctx, c, Filter{Class: "nope"}); !errors.Is(err, ErrBadFilter) {
		t.Fatalf("bad filter: %v", err)
	}
}

// checkConsistent: the facet counts add up to the index, and each facet
// set's size is its count.
func checkConsistent(t *testing.T, s *Store, eps ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ep := range eps {
		fs, complete, err := s.state(ctx, ep)
		if err != nil || !complete {
			t.Fatalf("%s: facets do not cover the index (%v)", ep, err)
		}
		for _, fa := range fs {
			if n, _ := s.rdb.ZCard(ctx, keys.DLQFacetPrefix(ep)+fa.name).Result(); n != fa.Count {
				t.Fatalf("%s facet %q: set of %d, count %d", ep, fa.name, n, fa.Count)
			}
		}
	}
}

// Entries written before the index existed (index zset and hash only) are
// indexed by the first filtered read; Reindex is idempotent, and drops
// facet members whose entry an older binary removed.
func TestReindexLegacyEntries(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	es := mixed(300)
	addAll(t, rdb, es[:100])
	pipe := rdb.Pipeline()
	for _, e := range es[100:] { // the layout before facets.go
		b, _ := json.Marshal(e)
		pipe.HSet(ctx, keys.DLQEntries(e.Endpoint), e.ID, b)
		pipe.ZAdd(ctx, keys.DLQIndex(e.Endpoint), redis.Z{Score: float64(e.LastAttempt.UnixMilli()), Member: e.ID})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, complete, _ := s.state(ctx, "forms"); complete {
		t.Fatal("legacy entries not noticed")
	}
	f := Filter{Codes: []string{"4002"}}
	if n, err := s.Total(ctx, f); err != nil || n != int64(len(expect(es, f))) {
		t.Fatalf("count after the lazy reindex: %d, %v; want %d", n, err, len(expect(es, f)))
	}
	checkConsistent(t, s, "forms", "sms")
	if n, err := s.Reindex(ctx, "forms"); err != nil || n != 0 {
		t.Fatalf("second reindex indexed %d, %v", n, err)
	}
	// An older binary's purge: hash and index only.
	gone := expect(es, Filter{Endpoints: []string{"forms"}, Codes: []string{"4002"}})[0]
	rdb.HDel(ctx, keys.DLQEntries("forms"), gone.ID)
	rdb.ZRem(ctx, keys.DLQIndex("forms"), gone.ID)
	if _, complete, _ := s.state(ctx, "forms"); complete {
		t.Fatal("stale facet member not noticed")
	}
	if n, err := s.Total(ctx, f); err != nil || n != int64(len(expect(es, f))-1) {
		t.Fatalf("count after an old purge: %d, %v", n, err)
	}
	checkConsistent(t, s, "forms", "sms")
}

// Re-adding an entry with another code moves it to the other facet.
func TestReAddMovesFacet(t *testing.T) {
	s, rdb, _, _ := setup(t)
	ctx := context.Background()
	e := mixed(1)[0]
	addAll(t, rdb, []Entry{e})
	e.Code, e.Class = "9999", "transient"
	if err := s.Add(ctx, e); err != nil {
		t.Fatal(err)
	}
	gs, err := s.CountBy(ctx, Filter{}, ByCode)
	if err != nil || len(gs) != 1 || gs[0] != (Group{"9999", 1}) {
		t.Fatalf("by code after re-add: %v, %v", gs, err)
	}
	checkConsistent(t, s, e.Endpoint)
}

func TestFilterValidate(t *testing.T) {
	for _, tc := range []struct {
		f     Filter
		field string
	}{
		{Filter{Endpoints: []string{"no such!"}}, "endpoint:"},
		{Filter{Codes: []string{" "}}, "code:"},
		{Filter{Class: "fatal"}, "class:"},
		{Filter{Type: "record"}, "type:"},
		{Filter{Since: t0, Until: t0}, "until:"},
		{Filter{Grep: strings.Repeat("x", 1001)}, "grep:"},
	} {
		err := tc.f.Validate()
		if !errors.Is(err, ErrBadFilter) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want %s", tc.f, err, tc.field)
		}
	}
	if err := (Filter{Codes: []string{"4001"}, Class: "permanent", Type: tasks.TypeSMSSend, Since: t0, Until: t0.Add(time.Second)}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90s":                       now.Add(-90 * time.Second),
		"2h":                        now.Add(-2 * time.Hour),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"1.5d":                      now.Add(-36 * time.Hour),
		"2026-11-20T09:00:00+08:00": time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-2h", "0s", "2026-11-20", "1e9d"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCursor(t *testing.T) {
	p := pos{ms: 1700000000123, id: "a b/ü", ep: "forms"}
	got, err := p.cursor().pos()
	if err != nil || *got != p {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []Cursor{"x", "e30", Cursor(strings.Repeat("A", 30))} {
		if _, err := bad.pos(); !errors.Is(err, ErrBadCursor) || !strings.Contains(err.Error(), "after:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// The order: newer first, then larger id, then larger endpoint.
	order := []pos{{2, "a", "a"}, {1, "b", "a"}, {1, "a", "b"}, {1, "a", "a"}, {0, "z", "z"}}
	for i := range order {
		for j := range order {
			if before(order[i], order[j]) != (i < j) {
				t.Errorf("before(%v, %v) = %v", order[i], order[j], i >= j)
			}
		}
	}
}
