package tasks_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/vendorq/vendorq/tasks"
)

func TestQueueNamesPerLane(t *testing.T) {
	for _, tc := range []struct {
		p    tasks.Priority
		want string
	}{{"", "forms"}, {tasks.PriorityDefault, "forms"}, {tasks.PriorityHigh, "forms:high"}, {tasks.PriorityLow, "forms:low"}} {
		if got := tasks.Queue("forms", tc.p); got != tc.want {
			t.Errorf("Queue(forms, %q) = %q, want %q", tc.p, got, tc.want)
		}
		ep, lane, ok := tasks.ParseQueue(tc.want)
		if !ok || ep != "forms" || lane != tc.p.Or() {
			t.Errorf("ParseQueue(%q) = %q %q %v", tc.want, ep, lane, ok)
		}
	}
	for _, bad := range []string{"forms:default", "forms:urgent", ":high", "a b:low"} {
		if _, _, ok := tasks.ParseQueue(bad); ok {
			t.Errorf("ParseQueue(%q) ok, want refused", bad)
		}
	}
	w := tasks.QueueWeights("sms")
	if w["sms:high"] <= w["sms"] || w["sms"] <= w["sms:low"] || len(w) != 3 {
		t.Errorf("weights %v: want high > default > low", w)
	}
}

func TestPriorityIsValidated(t *testing.T) {
	if _, err := tasks.ParsePriority("urgent"); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("ParsePriority(urgent) = %v, want ErrInvalid", err)
	}
	_, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "x", Priority: "urgent"})
	var fe *tasks.FieldError
	if !errors.As(err, &fe) || fe.Field != "priority" {
		t.Fatalf("err = %v, want a FieldError on priority", err)
	}
}

func TestLaneTaskGoesToItsQueueAndKeepsDefaultPayloadsUnchanged(t *testing.T) {
	data := json.RawMessage(`{"a":1}`)
	def, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if string(def.Payload()) != `{"endpoint":"forms","table":"a/b","data":{"a":1}}` {
		t.Errorf("default payload %s: a task without priority must encode as before", def.Payload())
	}
	low, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: data, Priority: tasks.PriorityLow})
	if err != nil {
		t.Fatal(err)
	}
	if got := tasks.PayloadPriority(low.Payload()); got != tasks.PriorityLow {
		t.Errorf("PayloadPriority = %q, want low", got)
	}
	if got := tasks.PayloadPriority(def.Payload()); got != tasks.PriorityDefault {
		t.Errorf("PayloadPriority(default) = %q", got)
	}
}
