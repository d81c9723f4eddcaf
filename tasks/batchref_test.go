package tasks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestBatchRefValidation(t *testing.T) {
	cases := []struct {
		ref   BatchRef
		field string // "" = valid
	}{
		{BatchRef{}, ""},
		{BatchRef{Batch: "k3x9w2m1q8", Line: 2}, ""},
		{BatchRef{Batch: "k3x9w2m1q8"}, "line"},
		{BatchRef{Line: 3}, "batch"},
		{BatchRef{Batch: "K3X", Line: 3}, "batch"},
		{BatchRef{Batch: strings.Repeat("a", 33), Line: 3}, "batch"},
		{BatchRef{Batch: "ab", Line: MaxBatchLine + 1}, "line"},
	}
	for _, c := range cases {
		p := RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{}`), BatchRef: c.ref}
		err := p.Validate()
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.ref, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%+v: %v, want a FieldError on %s", c.ref, err, c.field)
		}
	}
	// The reference travels in the payload as "batch" and "line", and is
	// absent from a task that belongs to no batch.
	b, _ := json.Marshal(SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "x", BatchRef: BatchRef{Batch: "ab", Line: 7}})
	if !strings.Contains(string(b), `"batch":"ab","line":7`) {
		t.Errorf("payload %s", b)
	}
	b, _ = json.Marshal(SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "x"})
	if strings.Contains(string(b), "batch") || strings.Contains(string(b), "line") {
		t.Errorf("payload of no batch %s", b)
	}
}
