package producer

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// A key names one task per endpoint, whatever its lane. asynq refuses a
// second task ID only within one queue, and each lane is its own queue
// (tasks.Queue), so the same key sent once as high and once as default —
// or an import re-run with another --priority — would become two tasks.
// The producer therefore looks for the ID on every lane of the endpoint
// before enqueuing, in the same round trip as the done-marker check.
//
// Two producers enqueuing the same new key at the same instant on two
// different lanes can still both get in (the check and asynq's enqueue
// are two steps); the worker then calls the vendor once and finds the done
// marker for the other (handlers/bookkeeping.go alreadyDone), unless both
// run at the same moment.

// dupeCheck is the pipelined EXISTS of one keyed task: its done marker
// and its asynq task hash on each lane, in one EXISTS of four keys, or on
// Redis Cluster (split), where they live in four slots, one EXISTS each
// (BenchmarkDupeCheck: the one command is what keeps an import's dedupe
// pipeline near its cost before lanes). The zero value (a task without a
// key) finds nothing.
type dupeCheck [1 + 3]*redis.IntCmd

// splitKeys reports whether rdb needs one command per key of a check.
func splitKeys(rdb redis.UniversalClient) bool {
	_, cluster := rdb.(*redis.ClusterClient)
	return cluster
}

// queueDupeChecks adds id's checks on endpoint to pipe.
func queueDupeChecks(ctx context.Context, pipe redis.Pipeliner, endpoint, id string, split bool) dupeCheck {
	var k [1 + 3]string
	k[0] = keys.Dedupe(endpoint, id)
	for i, q := range tasks.Queues(endpoint) {
		k[1+i] = keys.AsynqTask(q, id)
	}
	var c dupeCheck
	if !split {
		c[0] = pipe.Exists(ctx, k[:]...)
		return c
	}
	for i := range k {
		c[i] = pipe.Exists(ctx, k[i])
	}
	return c
}

// found reports whether any of the checks saw the task (call after Exec).
func (c dupeCheck) found() bool {
	for _, cmd := range c {
		if cmd != nil && cmd.Val() > 0 {
			return true
		}
	}
	return false
}
