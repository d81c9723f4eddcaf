// Package results is the home of a done task's result record: what the
// vendor answered (its record id; per phone the msgid for SMS), when the
// task finished, and what failed on the way. The worker writes it in the
// same pipeline as the task's done marker (handlers/bookkeeping.go), so it
// costs no Redis round trip; `enqueue status`, GET /v1/tasks/{id} and
// `enqueue batch report` read it. It is kept for results.retention
// (default 7 days) and costs about 360 bytes of Redis per task
// (docs/batches.md, measured by BenchmarkResultMemory).
package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// DefaultRetention is how long a result is kept when results.retention is unset.
const DefaultRetention = 7 * 24 * time.Hour

// ErrNotFound: no result for the task (not done, unknown, or expired).
var ErrNotFound = errors.New("no result")

// Record is one done task's result. Phones are masked (tasks.MaskPhone):
// a result is shown to producers, and the full number is in the payload
// they sent anyway.
type Record struct {
	Type      string  `json:"type"`
	VendorID  string  `json:"vendor_id,omitempty"` // the vendor's record id (record:create)
	Warning   string  `json:"warning,omitempty"`   // accepted with a warning
	Phones    []Phone `json:"phones,omitempty"`    // sms:send: one per phone delivered
	Calls     int     `json:"calls"`               // vendor calls made, across runs
	Failures  int     `json:"failures,omitempty"`  // failed calls before the success
	LastError string  `json:"last_error,omitempty"`
	LastCode  string  `json:"last_code,omitempty"`
	First     int64   `json:"first_ms,omitempty"` // first vendor call, Unix ms
	Finished  int64   `json:"finished_ms"`        // Unix ms
	Priority  string  `json:"priority,omitempty"`
	Batch     string  `json:"batch,omitempty"`
	Line      int64   `json:"line,omitempty"`
}

// Phone is one delivered phone of an SMS task.
type Phone struct {
	Phone string `json:"phone"` // masked
	MsgID string `json:"msgid"`
}

// Encode is the stored form of r.
func Encode(r Record) []byte {
	b, _ := json.Marshal(r) // a struct of strings and numbers: cannot fail
	return b
}

// Write adds the SET of r (kept for ttl) to pipe.
func Write(ctx context.Context, pipe redis.Pipeliner, endpoint, taskID string, r Record, ttl time.Duration) {
	if ttl <= 0 {
		ttl = DefaultRetention
	}
	pipe.Set(ctx, keys.Result(endpoint, taskID), Encode(r), ttl)
}

// Decode reads a stored record.
func Decode(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("undecodable result: %w", err)
	}
	return r, nil
}

// Get reads the result of taskID on endpoint.
func Get(ctx context.Context, rdb redis.UniversalClient, endpoint, taskID string) (Record, error) {
	b, err := rdb.Get(ctx, keys.Result(endpoint, taskID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Record{}, fmt.Errorf("%w: %s/%s", ErrNotFound, endpoint, taskID)
	}
	if err != nil {
		return Record{}, fmt.Errorf("read result %s/%s: %w", endpoint, taskID, err)
	}
	return Decode(b)
}

// Time turns a stored Unix ms into a time (zero for 0).
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
