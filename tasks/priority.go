package tasks

import (
	"encoding/json"
	"strings"
)

// Priority is a task's lane on its endpoint (docs/lanes.md): on one
// endpoint, across every worker process, a ready high task takes the next
// slot of the shared bucket before any waiting default or low task, and
// default before low. The zero value is PriorityDefault.
type Priority string

// The three lanes, highest first.
const (
	PriorityHigh    Priority = "high"
	PriorityDefault Priority = "default"
	PriorityLow     Priority = "low"
)

// Priorities lists the lanes, highest first.
var Priorities = []Priority{PriorityHigh, PriorityDefault, PriorityLow}

// ParsePriority accepts "high", "default" or "low" ("" = default).
func ParsePriority(s string) (Priority, error) {
	p := Priority(strings.TrimSpace(s))
	if p == "" {
		return PriorityDefault, nil
	}
	if !p.valid() {
		return "", invalid("priority", "must be high, default or low, got %q", s)
	}
	return p, nil
}

func (p Priority) valid() bool {
	return p == "" || p == PriorityHigh || p == PriorityDefault || p == PriorityLow
}

// Or returns p, or PriorityDefault when p is empty.
func (p Priority) Or() Priority {
	if p == "" {
		return PriorityDefault
	}
	return p
}

// Rank orders lanes: 0 = high, 1 = default, 2 = low.
func (p Priority) Rank() int {
	switch p.Or() {
	case PriorityHigh:
		return 0
	case PriorityLow:
		return 2
	}
	return 1
}

// laneSep joins an endpoint and a lane into a queue name. Endpoint names
// cannot hold it (ValidEndpoint), so no endpoint's queue is another's lane.
const laneSep = ":"

// Queue is the asynq queue of endpoint's lane p. The default lane keeps the
// endpoint's own name (SPEC §3.2: one queue per endpoint, unchanged for
// tasks that name no priority); high and low are "E:high" and "E:low".
func Queue(endpoint string, p Priority) string {
	if p.Or() == PriorityDefault {
		return endpoint
	}
	return endpoint + laneSep + string(p)
}

// Queues returns endpoint's three queues, highest lane first (the order a
// worker dequeues them in, strictly).
func Queues(endpoint string) []string {
	out := make([]string, len(Priorities))
	for i, p := range Priorities {
		out[i] = Queue(endpoint, p)
	}
	return out
}

// QueueWeights is asynq.Config.Queues for endpoint with StrictPriority:
// high 3, default 2, low 1.
func QueueWeights(endpoint string) map[string]int {
	m := make(map[string]int, len(Priorities))
	for i, q := range Queues(endpoint) {
		m[q] = len(Priorities) - i
	}
	return m
}

// ParseQueue splits a queue name into its endpoint and lane; ok is false
// for a name that is neither an endpoint nor one of its lanes.
func ParseQueue(queue string) (endpoint string, p Priority, ok bool) {
	if ValidEndpoint(queue) {
		return queue, PriorityDefault, true
	}
	i := strings.LastIndex(queue, laneSep)
	if i < 0 {
		return "", "", false
	}
	ep, lane := queue[:i], Priority(queue[i+1:])
	if !ValidEndpoint(ep) || (lane != PriorityHigh && lane != PriorityLow) {
		return "", "", false
	}
	return ep, lane, true
}

// String returns the lane's name ("default" for the zero value).
func (p Priority) String() string { return string(p.Or()) }

// errPriority is the FieldError of an invalid payload priority.
func errPriority(p Priority) error {
	return invalid("priority", "must be high, default or low, got %q", string(p))
}

// PayloadPriority reads the lane of a record:create or sms:send payload
// (PriorityDefault when it names none or cannot be read): a dead letter is
// replayed onto the queue of its own lane.
func PayloadPriority(payload []byte) Priority {
	var p struct {
		Priority Priority `json:"priority"`
	}
	if json.Unmarshal(payload, &p) != nil || !p.Priority.valid() {
		return PriorityDefault
	}
	return p.Priority.Or()
}
