package batch

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// Status is a batch's counts, read from its meta hash alone.
type Status struct {
	ID         string    `json:"batch_id"`
	Endpoint   string    `json:"endpoint"`
	Type       string    `json:"type"`
	Source     string    `json:"source"`
	Priority   string    `json:"priority,omitempty"`
	Created    time.Time `json:"created_at"`
	Enqueued   int64     `json:"enqueued"`   // tasks the batch put on the queue
	Duplicates int64     `json:"duplicates"` // rows whose task was already in (another batch's, or an earlier row's)
	Done       int64     `json:"done"`
	Dead       int64     `json:"dead"`
	// Pending is the batch's tasks not ended yet: scheduled, pending,
	// active or retrying (telling these apart would mean asking every row).
	Pending int64 `json:"pending"`
	// Rate is tasks ended per second since the first one ended; Remaining
	// estimates the time left at that rate (nil when nothing is left or no
	// rate is known yet).
	Rate       float64        `json:"rate_per_s"`
	Remaining  *time.Duration `json:"-"`
	ETASeconds *float64       `json:"eta_s,omitempty"` // Remaining in seconds
	FirstEnded *time.Time     `json:"first_ended_at,omitempty"`
	LastEnded  *time.Time     `json:"last_ended_at,omitempty"`
	MaxLine    int64          `json:"-"`
}

// Complete reports whether every task of the batch ended.
func (s Status) Complete() bool { return s.Pending == 0 }

// Get reads the batch's status: one HGETALL, whatever its size.
func Get(ctx context.Context, rdb redis.UniversalClient, id string, now time.Time) (Status, error) {
	m, err := rdb.HGetAll(ctx, keys.BatchMeta(id)).Result()
	if err != nil {
		return Status{}, fmt.Errorf("read batch %s: %w", id, err)
	}
	if len(m) == 0 {
		return Status{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return statusOf(id, m, now), nil
}

// statusOf computes the status from the meta hash; pure, for the table test.
func statusOf(id string, m map[string]string, now time.Time) Status {
	n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
	s := Status{
		ID: id, Endpoint: m[fEndpoint], Type: m[fType], Source: m[fSource], Priority: m[fPriority],
		Created: time.UnixMilli(n(fCreated)).UTC(), Enqueued: n(fEnqueued), Duplicates: n(fDuplicates),
		Done: n(fDone), Dead: n(fDead), MaxLine: n(fMaxLine),
	}
	s.Pending = max(s.Enqueued-s.Done-s.Dead, 0)
	first, last := n(fFirstEnd), n(fLastEnd)
	if first == 0 {
		return s
	}
	f, l := time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	s.FirstEnded, s.LastEnded = &f, &l
	ended := s.Done + s.Dead
	until := l
	if s.Pending > 0 {
		until = now // still going: a stopped worker shows as a falling rate
	}
	if span := until.Sub(f); span >= time.Second {
		s.Rate = float64(ended) / span.Seconds()
	}
	if s.Pending > 0 && s.Rate > 0 {
		eta := time.Duration(float64(s.Pending) / s.Rate * float64(time.Second)).Round(time.Second)
		secs := eta.Seconds()
		s.Remaining, s.ETASeconds = &eta, &secs
	}
	return s
}

// String is the plain form: one line of name=value pairs.
func (s Status) String() string {
	line := fmt.Sprintf("batch=%s endpoint=%s enqueued=%d duplicates=%d done=%d dead=%d pending=%d rate=%.1f/s",
		s.ID, s.Endpoint, s.Enqueued, s.Duplicates, s.Done, s.Dead, s.Pending, s.Rate)
	if s.Remaining != nil {
		line += " eta=" + s.Remaining.String()
	}
	return line
}
