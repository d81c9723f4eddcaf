package taskstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/results"
	"github.com/vendorq/vendorq/tasks"
)

// Brief is a task's state in a report line: for a done task the vendor's
// record id, for a dead one the code.
type Brief struct {
	State    string
	VendorID string
	Code     string
}

// Unknown is the state of a task no home knows (its result expired, or it
// was deleted from the dashboard).
const Unknown = "unknown"

// Briefs reads the states of ids on endpoint in one pipelined round trip:
// per task its result, its dead letter and asynq's state on each lane
// (the "state" field of asynq's task hash, keys.AsynqTask: an
// Inspector.GetTaskInfo would cost a round trip per task and lane).
func Briefs(ctx context.Context, rdb redis.UniversalClient, endpoint string, ids []string) ([]Brief, error) {
	out := make([]Brief, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	queues := tasks.Queues(endpoint)
	pipe := rdb.Pipeline()
	res := make([]*redis.StringCmd, len(ids))
	lanes := make([][]*redis.StringCmd, len(ids))
	for i, id := range ids {
		res[i] = pipe.Get(ctx, keys.Result(endpoint, id))
		for _, q := range queues {
			lanes[i] = append(lanes[i], pipe.HGet(ctx, keys.AsynqTask(q, id), "state"))
		}
	}
	dead := pipe.HMGet(ctx, keys.DLQEntries(endpoint), ids...)
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	dl := dead.Val()
	switch {
	case dead.Err() != nil:
		return nil, fmt.Errorf("read task states: dead letters: %w", dead.Err())
	case len(dl) != len(ids):
		return nil, fmt.Errorf("read task states: %d dead-letter answers for %d tasks", len(dl), len(ids))
	}
	for i := range ids {
		if err := res[i].Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read task states: %w", err)
		}
		out[i] = brief(res[i], dl[i], lanes[i])
	}
	return out, nil
}

func brief(res *redis.StringCmd, dead any, lanes []*redis.StringCmd) Brief {
	if b, err := res.Bytes(); err == nil {
		r, _ := results.Decode(b)
		return Brief{State: Done, VendorID: r.VendorID}
	}
	if s, ok := dead.(string); ok {
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal([]byte(s), &e)
		return Brief{State: Dead, Code: e.Code}
	}
	for _, c := range lanes {
		if s, err := c.Result(); err == nil {
			return Brief{State: asynqState(s)}
		}
	}
	return Brief{State: Unknown}
}

// asynqState maps the state field of asynq's task hash (asynq v0.26
// internal/base TaskState.String) as stateOf does.
func asynqState(s string) string {
	switch s {
	case "active":
		return Active
	case "scheduled":
		return Scheduled
	case "retry":
		return Retry
	case "archived":
		return Dead
	case "completed":
		return Done
	}
	return Pending
}
