package dashboards

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// A scrape used to ask asynq's Inspector for every lane queue of every
// endpoint: GetQueueInfo is three round trips per queue (the queue set,
// the stats script, and a memory estimate that runs MEMORY USAGE on up to
// 20 sampled tasks of each of six structures), so with 1,000 endpoints a
// scrape cost 9,000 round trips, more for queues that hold tasks. The
// collector needs only the six sizes and the oldest pending task's age,
// which it reads itself from asynq's keys (keys.AsynqQueue) in two
// pipelined round trips whatever the number of endpoints
// (BENCHMARKS.md "Metrics scrape").

// laneSizes are the lane-queue sizes in QueueStates order.
type laneSizes [6]int64

// laneStat is what a scrape reports of one lane queue.
type laneStat struct {
	sizes  laneSizes
	oldest time.Duration // how long the oldest pending task has waited; 0 = none pending
}

// readLanes reads the stats of queues in two pipelined round trips: the
// six sizes and the id of the oldest pending task of each, then that
// task's pending_since. A queue nobody ever used reads empty.
func readLanes(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time) (map[string]laneStat, error) {
	out := make(map[string]laneStat, len(queues))
	if len(queues) == 0 {
		return out, nil
	}
	type sizeCmds struct {
		sizes  [6]*redis.IntCmd
		oldest *redis.StringCmd
	}
	cmds := make([]sizeCmds, len(queues))
	pipe := rdb.Pipeline()
	for i, q := range queues {
		c := &cmds[i]
		c.sizes[0] = pipe.LLen(ctx, keys.AsynqQueue(q, "pending"))
		c.sizes[1] = pipe.LLen(ctx, keys.AsynqQueue(q, "active"))
		for j, s := range QueueStates[2:] {
			c.sizes[2+j] = pipe.ZCard(ctx, keys.AsynqQueue(q, s))
		}
		c.oldest = pipe.LIndex(ctx, keys.AsynqQueue(q, "pending"), -1) // asynq LPUSHes: the oldest is at the tail
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	since := make([]*redis.StringCmd, len(queues))
	pipe = rdb.Pipeline()
	for i, q := range queues {
		if id := cmds[i].oldest.Val(); id != "" {
			since[i] = pipe.HGet(ctx, keys.AsynqTask(q, id), "pending_since")
		}
	}
	if pipe.Len() > 0 {
		// redis.Nil: the oldest task left its hash between the two round
		// trips (it ran); its lane then reads as just served.
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}
	for i, q := range queues {
		var st laneStat
		for j, c := range cmds[i].sizes {
			st.sizes[j] = c.Val()
		}
		if since[i] != nil {
			if ns, err := strconv.ParseInt(since[i].Val(), 10, 64); err == nil && ns > 0 {
				st.oldest = max(now.Sub(time.Unix(0, ns)), 0)
			}
		}
		out[q] = st
	}
	return out, nil
}
