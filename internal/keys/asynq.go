package keys

// asynq's own keys (asynq v0.26, internal/base/base.go), for the few
// places that read them directly because an Inspector call per queue or
// per task would cost a round trip each, or more: the producer's dedupe
// check (internal/producer/dedupe.go), the idle watcher's probe
// (internal/worker/queuestate.go), batch reports (internal/taskstate) and
// the metrics scrape (dashboards/lanestats.go). They only read; every write
// goes through asynq. TestAsynqKeysAreAsynqs checks them against a real
// asynq enqueue, so an asynq upgrade that moves them fails there first.
//
// Every key of a queue carries the queue's hash tag ({QUEUE}), so one
// queue's keys share a Redis Cluster slot.

// AsynqQueue is the key of one of queue's structures: "pending" and
// "active" (lists of task ids, oldest at the tail), "scheduled", "retry",
// "archived", "completed" and "lease" (sorted sets), "paused" (exists
// while the queue is paused from asynqmon).
func AsynqQueue(queue, suffix string) string { return "asynq:{" + queue + "}:" + suffix }

// AsynqTask is the hash asynq keeps for task id on queue while the task is
// scheduled, pending, active, retrying, archived or completed (fields
// "msg", "state", "pending_since" in Unix ns, ...); its existence is what
// makes asynq answer ErrTaskIDConflict.
func AsynqTask(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }
