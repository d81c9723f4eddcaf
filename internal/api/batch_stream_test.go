package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// readBatch hands over each item's exact JSON in order and says where an
// envelope is wrong.
func TestReadBatch(t *testing.T) {
	for _, tc := range []struct {
		body   string
		items  string // the items handed over, joined by |
		field  string // "" = no error
		reason string
	}{
		{`{"items":[{"a":1}, [2] ,"x"]}`, `{"a":1}|[2]|"x"`, "", ""},
		{` {"ITEMS":[1]} ` + "\n", `1`, "", ""},
		{`{"items":[1,2,3,4]}`, `1|2|3`, "items", "at most 3 tasks per batch, got 4"},
		{`{"items":[{"a":1},]}`, `{"a":1}`, "body", "invalid character ']' looking for beginning of value in items[1], which starts at byte offset 18"},
		{`{"items" [1]}`, ``, "body", "after object key at byte offset 9"},
		{`{"items":[1]} x`, `1`, "body", "unexpected data after the JSON value, which ends at byte offset 13"},
		{`{"items":[1]`, `1`, "body", "truncated"},
		{`{"items":[1],"items":[2]}`, `1`, "items", "appears twice"},
		{`{"mode":1,"items":[1]}`, ``, "mode", "unknown field (known: items)"},
		{`{"items":null}`, ``, "items", "is required"},
		{`{}`, ``, "items", "is required"},
		{`{"items":[]}`, ``, "items", "is empty"},
		{`{"items":7}`, ``, "items", "must be an array of {\"type\", \"task\"} objects, got number"},
		{`[{"items":[]}]`, ``, "body", "must be a JSON object, got array"},
		{"  \n", ``, "body", "is empty"},
	} {
		var got []string
		err := readBatch(strings.NewReader(tc.body), 3, func(i int, raw []byte) {
			if i != len(got) {
				t.Errorf("%s: item %d handed over as %d", tc.body, len(got), i)
			}
			got = append(got, string(raw))
		})
		if items := strings.Join(got, "|"); items != tc.items {
			t.Errorf("%s: items %s, want %s", tc.body, items, tc.items)
		}
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason)):
			t.Errorf("%s: %v, want %s: …%s…", tc.body, err, tc.field, tc.reason)
		}
	}
}

// A read error (over the limit) comes back as it is, to become a 413.
func TestReadBatchReadError(t *testing.T) {
	body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(`{"items":[1,2]}`)), 8)
	var tooBig *http.MaxBytesError
	if err := readBatch(body, 3, func(int, []byte) {}); !errors.As(err, &tooBig) {
		t.Fatalf("got %v, want the *http.MaxBytesError", err)
	}
}

// Requests count at their declared size, within [minBodyCost, limit]; the
// budget refuses what does not fit and takes back what is released.
func TestBodyBudget(t *testing.T) {
	for _, tc := range []struct{ declared, limit, cost int64 }{
		{100, MaxTaskBytes, minBodyCost},
		{-1, MaxTaskBytes, MaxTaskBytes},
		{5 << 20, MaxBatchBytes, 5 << 20},
		{MaxBatchBytes + 1, MaxBatchBytes, MaxBatchBytes},
		{-1, 1000, 1000},
	} {
		if got := bodyCost(tc.declared, tc.limit); got != tc.cost {
			t.Errorf("bodyCost(%d, %d) = %d, want %d", tc.declared, tc.limit, got, tc.cost)
		}
	}
	b := newBodyBudget(10)
	r1, ok1 := b.tryReserve(6)
	_, ok2 := b.tryReserve(5)
	r3, ok3 := b.tryReserve(4)
	if !ok1 || ok2 || !ok3 {
		t.Fatalf("reserve 6, 5, 4 of 10: %v %v %v, want true false true", ok1, ok2, ok3)
	}
	r1()
	r3()
	if r, ok := b.tryReserve(10); !ok {
		t.Fatal("released bytes were not given back")
	} else {
		r()
	}
	if _, ok := newBodyBudget(-1).tryReserve(1 << 40); !ok {
		t.Fatal("an unbounded budget refused")
	}
}
