package worker

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// What the idle watcher reads of an endpoint's lanes in Redis (asynq's own
// keys, internal/base/base.go of asynq v0.26: asynq:{QUEUE}:pending is a
// list, scheduled, retry and lease are sorted sets scored in Unix seconds,
// asynq:{QUEUE}:paused exists while asynqmon pauses the queue). Redis
// deletes an empty list or set, so one EXISTS over a queue's four keys
// (one slot: they share the {QUEUE} tag) tells an empty queue in one
// command; only a queue holding something is read in detail.

// probeCmdsPerEndpoint is what the first stage costs per endpoint: one
// EXISTS per lane.
var probeCmdsPerEndpoint = len(tasks.Priorities)

// laneRaw is the detail read of one lane.
type laneRaw struct {
	pending   int64
	paused    bool
	scheduled []redis.Z // earliest only
	retry     []redis.Z
	lease     []redis.Z
}

// judge says whether an endpoint's lanes hold work to run now (pending
// on a lane not paused, a scheduled or retry task due, a lease expired:
// a crashed worker's task that a server's recoverer must bring back) and
// when its earliest future scheduled or retry task is due.
func judge(lanes []laneRaw, now time.Time) (work bool, next time.Time) {
	sec := float64(now.Unix())
	for _, l := range lanes {
		if l.pending > 0 && !l.paused {
			work = true
		}
		if len(l.lease) > 0 && l.lease[0].Score <= sec {
			work = true
		}
		for _, z := range [][]redis.Z{l.scheduled, l.retry} {
			if len(z) == 0 {
				continue
			}
			if z[0].Score <= sec {
				work = true
				continue
			}
			next = earliest(next, time.Unix(int64(z[0].Score), 0))
		}
	}
	return work, next
}

// observation of one endpoint.
type observation struct {
	work bool
	next time.Time
}

// probe reads the lanes of names in two pipelined round trips and judges
// each endpoint. An endpoint missing from the answer could not be read.
func probe(ctx context.Context, rdb redis.UniversalClient, names []string, now time.Time) (map[string]observation, error) {
	out := make(map[string]observation, len(names))
	if len(names) == 0 {
		return out, nil
	}
	// Stage 1: which lanes hold anything at all.
	pipe := rdb.Pipeline()
	exists := make([][]*redis.IntCmd, len(names))
	for i, name := range names {
		for _, q := range tasks.Queues(name) {
			exists[i] = append(exists[i], pipe.Exists(ctx, keys.AsynqQueue(q, "pending"), keys.AsynqQueue(q, "scheduled"), keys.AsynqQueue(q, "retry"), keys.AsynqQueue(q, "lease")))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return out, err
	}
	// Stage 2: the lanes that do, in detail.
	type laneCmds struct {
		pending, paused            *redis.IntCmd
		scheduled, retry, leaseCmd *redis.ZSliceCmd
	}
	detail := make([][]*laneCmds, len(names))
	pipe = rdb.Pipeline()
	for i, name := range names {
		for j, q := range tasks.Queues(name) {
			if exists[i][j].Val() == 0 {
				detail[i] = append(detail[i], nil)
				continue
			}
			detail[i] = append(detail[i], &laneCmds{
				pending:   pipe.LLen(ctx, keys.AsynqQueue(q, "pending")),
				paused:    pipe.Exists(ctx, keys.AsynqQueue(q, "paused")),
				scheduled: pipe.ZRangeWithScores(ctx, keys.AsynqQueue(q, "scheduled"), 0, 0),
				retry:     pipe.ZRangeWithScores(ctx, keys.AsynqQueue(q, "retry"), 0, 0),
				leaseCmd:  pipe.ZRangeWithScores(ctx, keys.AsynqQueue(q, "lease"), 0, 0),
			})
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return out, err
		}
	}
	for i, name := range names {
		lanes := make([]laneRaw, 0, len(detail[i]))
		for _, c := range detail[i] {
			if c == nil {
				continue
			}
			lanes = append(lanes, laneRaw{
				pending: c.pending.Val(), paused: c.paused.Val() > 0,
				scheduled: c.scheduled.Val(), retry: c.retry.Val(), lease: c.leaseCmd.Val(),
			})
		}
		work, next := judge(lanes, now)
		out[name] = observation{work: work, next: next}
	}
	return out, nil
}
