// Package batch tracks import batches (docs/batches.md): every `enqueue
// import` run and every HTTP batch request gets a batch id; the tasks it
// enqueues carry the id and their input line (tasks.BatchRef), and the
// worker counts each one in its batch when it ends, done or dead (End, in
// the same pipeline as the task's done marker).
//
// What a batch costs in Redis, all under the batch's hash tag (one
// cluster slot per batch, see internal/keys):
//
//	meta     a small hash: what the batch is, and its counters
//	rows:N   one hash per keys.BatchChunk lines: line offset -> task id
//	         (a duplicate row's id is prefixed with "+"), a listpack
//	done     a bitmap by line: the rows whose task ended done
//	dead     a bitmap by line: the rows whose task ended dead
//
// So Status reads one hash (no row is scanned, whatever the batch's
// size) and Report walks the rows chunk by chunk, a page at a time.
// Every key expires retention after the batch's last activity.
package batch

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// ErrNotFound: no batch has this id (never created, or expired).
var ErrNotFound = errors.New("no such batch")

// DefaultRetention is how long a batch is kept after its last activity
// when the caller gives none (the config's results.retention).
const DefaultRetention = 7 * 24 * time.Hour

// Meta is what a batch is.
type Meta struct {
	Endpoint string // "" = tasks of several endpoints (an HTTP batch): each row names its own
	Type     string // record:create or sms:send
	Source   string // the file name, "-" for stdin, "api" for an HTTP batch
	Priority string // the lane of its tasks ("" = default)
	Notify   string // URL to POST the counts to once every task ended (notify.go); "" = none
}

// The meta hash's fields.
const (
	fEndpoint   = "endpoint"
	fType       = "type"
	fSource     = "source"
	fPriority   = "priority"
	fCreated    = "created_ms"
	fEnqueued   = "enqueued"
	fDuplicates = "duplicates"
	fMaxLine    = "max_line"
	fDone       = "done"
	fDead       = "dead"
	fFirstEnd   = "first_end_ms"
	fLastEnd    = "last_end_ms"
	fNotify     = "notify"
)

// NewID returns a fresh batch id: 10 characters of [0-9a-z] (50 random
// bits, so that two batches share an id with odds of one in a million
// only after some 80,000 batches within a retention), which
// tasks.ValidBatchID accepts. It is short because every task of the batch
// carries it.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	n := binary.BigEndian.Uint64(b[:])
	id := make([]byte, 10)
	for i := range id {
		id[i] = alphabet[n%36]
		n /= 36
	}
	return string(id)
}

// Tracker records one batch's rows as they are enqueued.
type Tracker struct {
	rdb   redis.UniversalClient
	id    string
	ttl   time.Duration
	mixed bool // Meta.Endpoint is "": a row's value is "endpoint/task id"
}

// Start creates a batch and returns its tracker; ttl <= 0 is DefaultRetention.
func Start(ctx context.Context, rdb redis.UniversalClient, m Meta, ttl time.Duration) (*Tracker, error) {
	if ttl <= 0 {
		ttl = DefaultRetention
	}
	t := &Tracker{rdb: rdb, id: NewID(), ttl: ttl, mixed: m.Endpoint == ""}
	k := keys.BatchMeta(t.id)
	pipe := rdb.TxPipeline()
	pipe.HSet(ctx, k, fEndpoint, m.Endpoint, fType, m.Type, fSource, m.Source, fPriority, m.Priority,
		fCreated, time.Now().UnixMilli(), fEnqueued, 0, fDuplicates, 0, fDone, 0, fDead, 0, fNotify, m.Notify)
	pipe.PExpire(ctx, k, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("%w: create batch: %w", producer.ErrRedis, err)
	}
	return t, nil
}

// ID is the batch id.
func (t *Tracker) ID() string { return t.id }

// Ref is what a task of line carries.
func (t *Tracker) Ref(line int64) tasks.BatchRef { return tasks.BatchRef{Batch: t.id, Line: line} }

// maxLineScript raises the batch's max_line. KEYS[1] meta; ARGV[1] a line.
const maxLineScript = `
local m = tonumber(redis.call("HGET", KEYS[1], "max_line") or "0")
if tonumber(ARGV[1]) > m then redis.call("HSET", KEYS[1], "max_line", ARGV[1]) end
return 1
`

// Record notes the rows of one enqueue call, in one pipelined round trip:
// lines[i] is the line of items[i], and results and done are what
// producer.EnqueueBatch returned for them (rows not done are not noted).
func (t *Tracker) Record(ctx context.Context, lines []int64, items []producer.Item, res []producer.Result, done []bool) error {
	pipe := t.rdb.Pipeline()
	var enq, dup, maxLine int64
	lastChunk := int64(-1)
	var fields []any // the pending HSET's field, value pairs: one HSET per chunk and call
	flush := func() {
		if len(fields) > 0 {
			k := keys.BatchRows(t.id, lastChunk)
			pipe.HSet(ctx, k, fields...)
			pipe.PExpire(ctx, k, t.ttl)
			fields = nil
		}
	}
	for i := range items {
		if i >= len(done) || !done[i] {
			continue
		}
		line := lines[i]
		chunk := line / keys.BatchChunk
		v := packID(res[i].TaskID)
		if t.mixed {
			v = items[i].Endpoint + "/" + v // endpoint names hold no "/" (tasks.ValidEndpoint)
		}
		if res[i].Duplicate {
			v = "+" + v
			dup++
		} else {
			enq++
		}
		if chunk != lastChunk { // lines come in order: a chunk's rows of one call are adjacent
			flush()
			lastChunk = chunk
		}
		fields = append(fields, strconv.FormatInt(line%keys.BatchChunk, 10), v)
		maxLine = max(maxLine, line)
	}
	flush()
	if enq+dup == 0 {
		return nil
	}
	m := keys.BatchMeta(t.id)
	pipe.HIncrBy(ctx, m, fEnqueued, enq)
	pipe.HIncrBy(ctx, m, fDuplicates, dup)
	pipe.Eval(ctx, maxLineScript, []string{m}, maxLine) // EVAL: see End
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("%w: batch rows: %w", producer.ErrRedis, err)
	}
	return nil
}

// endScript counts a task of the batch that ended, once per line: a
// re-run of the handler (a lost acknowledgement) changes nothing, and a
// dead task replayed and then done moves from dead to done.
//
// KEYS[1] meta, KEYS[2] done bitmap, KEYS[3] dead bitmap, KEYS[4] the
// line's rows chunk. ARGV[1] "done" or "dead", ARGV[2] line, ARGV[3] now
// (Unix ms), ARGV[4] ttl (ms). Returns 1 when it counted, 0 when not (already
// counted, or the batch expired: it is not brought back), and the batch's
// completion (completeLua, notify.go) when this count ended its last task.
const endScript = `
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
local line = tonumber(ARGV[2])
if ARGV[1] == "done" then
  if redis.call("SETBIT", KEYS[2], line, 1) == 1 then return 0 end
  if redis.call("SETBIT", KEYS[3], line, 0) == 1 then redis.call("HINCRBY", KEYS[1], "dead", -1) end
else
  if redis.call("GETBIT", KEYS[2], line) == 1 then return 0 end
  if redis.call("SETBIT", KEYS[3], line, 1) == 1 then return 0 end
end
redis.call("HINCRBY", KEYS[1], ARGV[1], 1)
redis.call("HSETNX", KEYS[1], "first_end_ms", ARGV[3])
redis.call("HSET", KEYS[1], "last_end_ms", ARGV[3])
for i = 1, 4 do redis.call("PEXPIRE", KEYS[i], ARGV[4]) end
` + completeLua + `
return 1
`

// End adds to pipe the count of a task of ref's batch that ended (dead or
// done). It is EVAL with the script's text, not EVALSHA: in a pipeline a
// NOSCRIPT answer (a restarted Redis) would fail the whole write.
func End(ctx context.Context, pipe redis.Pipeliner, ref tasks.BatchRef, dead bool, now time.Time, ttl time.Duration) *redis.Cmd {
	if !ref.InBatch() {
		return nil
	}
	if ttl <= 0 {
		ttl = DefaultRetention
	}
	state := fDone
	if dead {
		state = fDead
	}
	ks := []string{keys.BatchMeta(ref.Batch), keys.BatchDone(ref.Batch), keys.BatchDead(ref.Batch), keys.BatchRows(ref.Batch, ref.Line/keys.BatchChunk)}
	return pipe.Eval(ctx, endScript, ks, state, ref.Line, now.UnixMilli(), ttl.Milliseconds())
}
