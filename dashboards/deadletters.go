package dashboards

import (
	"context"
	"encoding/json"
	"time"
)

// The dead-letter store, as the dashboard sees it. dashboards is an
// exported package, so its API names no internal type: the worker adapts
// its store (internal/dashdeps) to these.

// DeadLetter is one dead task as the dead-letter view shows it.
type DeadLetter struct {
	ID           string
	Type         string
	Endpoint     string
	Error        string
	Class        string
	Code         string
	Attempts     int
	FirstAttempt time.Time
	LastAttempt  time.Time
	Payload      json.RawMessage
}

// DeadLetterCounter is what the Collector reads at scrape time.
type DeadLetterCounter interface {
	// Endpoints returns the endpoints that have dead letters.
	Endpoints(ctx context.Context) ([]string, error)
	// Count returns how many dead letters endpoint has.
	Count(ctx context.Context, endpoint string) (int64, error)
}

// DeadLetters is what the dead-letter view (/dlq) reads and changes.
// Replay puts a task back on its endpoint's queue under its original id
// and removes the entry only once the task is queued.
type DeadLetters interface {
	DeadLetterCounter
	// List returns up to limit entries of endpoint from offset, newest first.
	List(ctx context.Context, endpoint string, offset, limit int) ([]DeadLetter, error)
	// ReplayOne replays one entry; false (no error) when there is none.
	ReplayOne(ctx context.Context, endpoint, id string) (bool, error)
	// ReplayAll replays every entry of endpoint and says how many.
	ReplayAll(ctx context.Context, endpoint string) (int64, error)
	// Purge deletes every entry of endpoint and says how many there were;
	// it also clears their dedupe markers, so that a fixed task with the
	// same key can be enqueued again.
	Purge(ctx context.Context, endpoint string) (int64, error)
}
