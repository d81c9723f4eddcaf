package api

import (
	"context"
	"net/http"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// batchTracker is a batch request's batch (internal/batch): its tasks
// carry its id and their line (item index + 1), and its rows are noted
// after each part is enqueued. The zero value tracks nothing.
type batchTracker struct{ t *batch.Tracker }

// startBatch starts the request's batch when the server tracks batches;
// a Redis failure is answered 503 at once, before the body is read.
func (s *Server) startBatch(w http.ResponseWriter, r *http.Request) (batchTracker, bool) {
	if s.o.NewBatch == nil {
		return batchTracker{}, true
	}
	t, err := s.o.NewBatch(r.Context())
	if err != nil {
		s.o.Log.Error().Err(err).Msg("api: batch not started")
		w.Header().Set("Retry-After", "5")
		writeErrors(w, http.StatusServiceUnavailable, FieldError{Reason: "queue storage (Redis) unreachable"})
		return batchTracker{}, false
	}
	return batchTracker{t}, true
}

func (b batchTracker) id() string {
	if b.t == nil {
		return ""
	}
	return b.t.ID()
}

func (b batchTracker) ref(i int) tasks.BatchRef {
	if b.t == nil {
		return tasks.BatchRef{}
	}
	return b.t.Ref(int64(i) + 1)
}

// record notes one part's rows; index maps the part's items to their
// request positions.
func (b batchTracker) record(ctx context.Context, index []int, items []producer.Item, res []producer.Result, done []bool) error {
	if b.t == nil {
		return nil
	}
	lines := make([]int64, len(index))
	for k, i := range index {
		lines[k] = int64(i) + 1
	}
	return b.t.Record(ctx, lines, items, res, done)
}
