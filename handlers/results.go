package handlers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/results"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// ending is how a task ended, for finishWith: dead-lettered, or done with
// what the vendor answered.
type ending struct {
	dead     bool
	vendorID string   // record:create: the vendor's record id
	warning  string   // accepted with a warning
	phones   []string // sms:send: the phones delivered (all of the task's)
}

// maxErrorBytes bounds the last error kept in the bookkeeping and result.
const maxErrorBytes = 500

// lastError is cause as kept: phones masked, at most maxErrorBytes.
func lastError(cause error) string {
	s := tasks.MaskPhones(cause.Error())
	if len(s) > maxErrorBytes {
		s = s[:maxErrorBytes]
	}
	return s
}

// result is the record of a done task. A task that failed before (in this
// run or an earlier one) reads its history: one more round trip, on the
// failure path only.
func (r *run) result(ctx context.Context, e ending, now time.Time) results.Record {
	rec := results.Record{
		Type: r.task.Type(), VendorID: e.vendorID, Warning: tasks.MaskPhones(e.warning),
		Calls: max(r.attempt, 1), First: r.started.UnixMilli(), Finished: now.UnixMilli(),
		Priority: string(tasks.PayloadPriority(r.task.Payload())),
	}
	ref := r.batchRef()
	rec.Batch, rec.Line = ref.Batch, ref.Line
	for _, ph := range e.phones {
		rec.Phones = append(rec.Phones, results.Phone{Phone: tasks.MaskPhone(ph), MsgID: vendorclient.MsgID(r.id, ph)})
	}
	if r.failures > 0 || r.attempt > 1 {
		h := r.history(ctx)
		rec.Calls = max(h.calls+1, rec.Calls) // the failed calls, and the one that succeeded
		rec.Failures = rec.Calls - 1
		rec.First = h.first.UnixMilli()
		rec.LastError, rec.LastCode = h.err, h.code
	}
	return rec
}

// batchRef is the import batch the task came from (its payload's
// tasks.BatchRef; none when the payload cannot be read).
func (r *run) batchRef() tasks.BatchRef {
	var b tasks.BatchRef
	if json.Unmarshal(r.task.Payload(), &b) != nil || b.Line < 1 || !tasks.ValidBatchID(b.Batch) {
		return tasks.BatchRef{}
	}
	return b
}

// BatchCompletion is an import batch whose every task ended, for the
// completion webhook (Deps.NotifyBatch; internal/batch notify.go).
type BatchCompletion struct {
	BatchID, Endpoint, URL           string
	Enqueued, Duplicates, Done, Dead int64
}

// batchComplete hands the batch's completion to Deps.NotifyBatch when this
// task's end was the batch's last (the end script says so, once per batch):
// in a goroutine, so that the webhook never holds the handler.
func (r *run) batchComplete(ref tasks.BatchRef, end *redis.Cmd) {
	c, ok := batch.Completed(ref.Batch, end)
	if !ok {
		return
	}
	if r.h.d.NotifyBatch == nil {
		r.log.Warn().Str("batch", c.BatchID).Msg("batch complete, but this worker sends no webhook: set results.notify_secret")
		return
	}
	go r.h.d.NotifyBatch(BatchCompletion{BatchID: c.BatchID, Endpoint: c.Endpoint, URL: c.URL, Enqueued: c.Enqueued, Duplicates: c.Duplicates, Done: c.Done, Dead: c.Dead})
}
