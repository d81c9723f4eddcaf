// Package taskstate answers "what became of task ID?" for `enqueue status`,
// GET /v1/tasks/{id} and `enqueue batch report`. A task is in one of three
// homes, asked in this order:
//
//	done        its result record (internal/results), kept for results.retention
//	dead        vendorq's dead-letter queue (internal/dlq)
//	otherwise   asynq, on one of its endpoint's three lane queues
//	            (scheduled, pending, active, retry)
//
// asynq deletes a completed task at once (no Retention is set: keeping
// every task's message would cost its whole payload), which is why a done
// task is known by its result alone.
package taskstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/results"
	"github.com/vendorq/vendorq/tasks"
)

// ErrNotFound: no endpoint knows the task.
var ErrNotFound = errors.New("unknown task")

// The states of SPEC §3.7.
const (
	Scheduled = "scheduled"
	Pending   = "pending"
	Active    = "active"
	Retry     = "retry"
	Done      = "done"
	Dead      = "dead"
)

// Info is what is known of one task. Errors have their phones masked.
type Info struct {
	ID          string          `json:"id"`
	Endpoint    string          `json:"endpoint"`
	Queue       string          `json:"queue,omitempty"`
	Type        string          `json:"type,omitempty"`
	State       string          `json:"state"`
	Priority    string          `json:"priority"`
	Failures    int             `json:"failures"`
	LastError   string          `json:"last_error,omitempty"`
	LastCode    string          `json:"last_code,omitempty"`
	FirstCall   *time.Time      `json:"first_attempt_at,omitempty"`
	LastAttempt *time.Time      `json:"last_attempt_at,omitempty"`
	NextAttempt *time.Time      `json:"next_attempt_at,omitempty"`
	Finished    *time.Time      `json:"finished_at,omitempty"`
	Batch       string          `json:"batch,omitempty"`
	Line        int64           `json:"line,omitempty"`
	Result      *results.Record `json:"result,omitempty"`
}

// Source is where the homes are.
type Source struct {
	Redis     redis.UniversalClient
	Inspector *asynq.Inspector
}

// Lookup finds id on the first of endpoints that knows it.
func Lookup(ctx context.Context, src Source, endpoints []string, id string) (Info, error) {
	if id == "" {
		return Info{}, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	// One round trip asks every endpoint's result and dead letter.
	pipe := src.Redis.Pipeline()
	res := make([]*redis.StringCmd, len(endpoints))
	dead := make([]*redis.SliceCmd, len(endpoints))
	for i, ep := range endpoints {
		res[i] = pipe.Get(ctx, keys.Result(ep, id))
		dead[i] = pipe.HMGet(ctx, keys.DLQEntries(ep), id)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	for i, ep := range endpoints {
		b, err := res[i].Bytes()
		switch {
		case err == nil:
			return fromResult(ep, id, b), nil
		case !errors.Is(err, redis.Nil):
			return Info{}, fmt.Errorf("read task %s: %w", id, err)
		case dead[i].Err() != nil:
			return Info{}, fmt.Errorf("read task %s: %w", id, dead[i].Err())
		}
		if v := dead[i].Val(); len(v) == 1 {
			if s, ok := v[0].(string); ok {
				return fromDeadLetter(ep, id, s), nil
			}
		}
	}
	for _, ep := range endpoints {
		info, err := fromAsynq(ctx, src, ep, id)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return info, err
		}
	}
	return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
}

func fromResult(ep, id string, b []byte) Info {
	in := Info{ID: id, Endpoint: ep, State: Done}
	r, err := results.Decode(b)
	if err != nil {
		in.LastError = err.Error()
		return in
	}
	in.Type, in.Priority, in.Failures = r.Type, tasks.Priority(r.Priority).String(), r.Failures
	in.LastError, in.LastCode = r.LastError, r.LastCode
	in.FirstCall, in.Finished = ptime(results.Time(r.First)), ptime(results.Time(r.Finished))
	in.LastAttempt = in.Finished
	in.Batch, in.Line = r.Batch, r.Line
	in.Result = &r
	return in
}

func fromDeadLetter(ep, id, raw string) Info {
	in := Info{ID: id, Endpoint: ep, State: Dead}
	var e dlq.Entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		in.LastError = "undecodable dead letter: " + err.Error()
		return in
	}
	in.Type, in.Failures = e.Type, e.Attempts
	in.LastError, in.LastCode = tasks.MaskPhones(e.Error), e.Code
	in.FirstCall, in.LastAttempt, in.Finished = ptime(e.FirstAttempt), ptime(e.LastAttempt), ptime(e.LastAttempt)
	in.Priority = tasks.PayloadPriority(e.Payload).String()
	in.Batch, in.Line = payloadBatch(e.Payload)
	return in
}

// fromAsynq asks the endpoint's lane queues, highest first.
func fromAsynq(ctx context.Context, src Source, ep, id string) (Info, error) {
	for _, q := range tasks.Queues(ep) {
		ti, err := src.Inspector.GetTaskInfo(q, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			continue
		case err != nil:
			return Info{}, fmt.Errorf("read task %s on %s: %w", id, q, err)
		}
		in := Info{ID: id, Endpoint: ep, Queue: q, Type: ti.Type, State: stateOf(ti.State), Failures: ti.Retried}
		in.Priority = tasks.PayloadPriority(ti.Payload).String()
		in.Batch, in.Line = payloadBatch(ti.Payload)
		in.LastError = tasks.MaskPhones(ti.LastErr)
		in.LastAttempt = ptime(ti.LastFailedAt)
		if ti.State == asynq.TaskStateScheduled || ti.State == asynq.TaskStateRetry {
			in.NextAttempt = ptime(ti.NextProcessAt)
		}
		if ti.State == asynq.TaskStateCompleted {
			in.Finished = ptime(ti.CompletedAt)
		}
		in.LastCode, in.FirstCall = attempts(ctx, src.Redis, ep, id)
		return in, nil
	}
	return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// attempts reads the handler's failed-call bookkeeping (handlers/bookkeeping.go).
func attempts(ctx context.Context, rdb redis.UniversalClient, ep, id string) (code string, first *time.Time) {
	v, err := rdb.HMGet(ctx, keys.Attempts(ep), id+":code", id+":first").Result()
	if err != nil || len(v) != 2 {
		return "", nil
	}
	code, _ = v[0].(string)
	if s, ok := v[1].(string); ok {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			first = ptime(time.UnixMilli(ms).UTC())
		}
	}
	return code, first
}

// stateOf maps asynq's states onto SPEC §3.7's. asynq's archive is never
// used by vendorq's handlers (they dead-letter themselves); a task there
// is dead all the same. A completed one (a producer that set Retention)
// is done; an aggregating one waits like a pending one.
func stateOf(s asynq.TaskState) string {
	switch s {
	case asynq.TaskStateActive:
		return Active
	case asynq.TaskStateScheduled:
		return Scheduled
	case asynq.TaskStateRetry:
		return Retry
	case asynq.TaskStateArchived:
		return Dead
	case asynq.TaskStateCompleted:
		return Done
	}
	return Pending
}

func payloadBatch(p []byte) (string, int64) {
	var b tasks.BatchRef
	if json.Unmarshal(p, &b) != nil {
		return "", 0
	}
	return b.Batch, b.Line
}

func ptime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
