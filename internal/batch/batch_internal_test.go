package batch

import (
	"strconv"
	"testing"
	"time"

	"github.com/vendorq/vendorq/tasks"
)

func TestPackID(t *testing.T) {
	for _, c := range []struct {
		id     string
		packed bool
	}{
		{"imp:0123456789abcdef0123456789abcdef", true},
		{"imp:0123456789ABCDEF0123456789abcdef", false}, // not what DefaultKey writes
		{"imp:0123456789abcdef", false},
		{"imp:0123456789abcdef0123456789abcdeg", false},
		{"order-42", false},
		{"h-0123456789abcdef0123456789abcdef", false},
	} {
		p := packID(c.id)
		if (len(p) == 17) != c.packed || unpackID(p) != c.id {
			t.Errorf("%q: packed %q (%d bytes), back %q", c.id, p, len(p), unpackID(p))
		}
	}
}

func TestNewIDIsAValidBatchID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 10 || !tasks.ValidBatchID(id) || seen[id] {
			t.Fatalf("id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestStatusOf(t *testing.T) {
	now := time.UnixMilli(1_000_000_000)
	ms := func(d time.Duration) string { return itoa(now.Add(d).UnixMilli()) }
	cases := []struct {
		name     string
		m        map[string]string
		pending  int64
		rate     float64
		eta      time.Duration // 0 = none
		complete bool
	}{
		{"nothing ended yet", map[string]string{fEnqueued: "10"}, 10, 0, 0, false},
		{"half way, 5 in 10 s", map[string]string{fEnqueued: "10", fDone: "4", fDead: "1", fFirstEnd: ms(-10 * time.Second), fLastEnd: ms(-time.Second)}, 5, 0.5, 10 * time.Second, false},
		{"complete: the rate over first..last", map[string]string{fEnqueued: "10", fDone: "9", fDead: "1", fFirstEnd: ms(-20 * time.Second), fLastEnd: ms(-10 * time.Second)}, 0, 1, 0, true},
		{"all duplicates: no work", map[string]string{fEnqueued: "0", fDuplicates: "10"}, 0, 0, 0, true},
		{"counters past enqueued never go negative", map[string]string{fEnqueued: "1", fDone: "2"}, 0, 0, 0, true},
	}
	for _, c := range cases {
		s := statusOf("b", c.m, now)
		if s.Pending != c.pending || s.Rate != c.rate || s.Complete() != c.complete {
			t.Errorf("%s: %+v", c.name, s)
		}
		switch {
		case c.eta == 0 && s.Remaining != nil:
			t.Errorf("%s: eta %v, want none", c.name, *s.Remaining)
		case c.eta != 0 && (s.Remaining == nil || *s.Remaining != c.eta):
			t.Errorf("%s: eta %v, want %v", c.name, s.Remaining, c.eta)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
