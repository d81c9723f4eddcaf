package dashboards

import (
	"context"
	"encoding/json"
	"errors"
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
	// Counts returns how many dead letters each of endpoints has, in
	// order, in one round trip.
	Counts(ctx context.Context, endpoints []string) ([]int64, error)
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

	// ListFiltered returns up to limit entries that pass f, newest first,
	// after the cursor after ("" = the newest), and the next page's cursor
	// ("" on the last page).
	ListFiltered(ctx context.Context, f DeadLetterFilter, after string, limit int) (DeadLetterPage, error)
	// CountBy counts the entries that pass f per code, endpoint, class or
	// type (by), largest first.
	CountBy(ctx context.Context, f DeadLetterFilter, by string) ([]DeadLetterGroup, error)
	// ReplayFilter replays, and PurgeFilter purges (clearing dedupe
	// markers), every entry that passes f; both say how many.
	ReplayFilter(ctx context.Context, f DeadLetterFilter) (int64, error)
	PurgeFilter(ctx context.Context, f DeadLetterFilter) (int64, error)
}

// ErrBadFilter: a DeadLetterFilter field is unusable; the error's text
// names the field ("class: ...").
var ErrBadFilter = errors.New("bad filter")

// DeadLetterFilter selects dead letters; empty fields select everything.
// Since and Until are an RFC 3339 time or a duration before now (2h, 7d).
type DeadLetterFilter struct {
	Endpoint                        string
	Codes                           []string
	Class, Type, Since, Until, Grep string
}

// DeadLetterPage is one page of a filtered listing.
type DeadLetterPage struct {
	Entries []DeadLetter
	Next    string
}

// DeadLetterGroup is the count of one code, endpoint, class or type.
type DeadLetterGroup struct {
	Key   string
	Count int64
}
