package importer

import (
	"context"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// Tracker records an import's batch (internal/batch.Tracker): every row's
// task carries the batch id and the row's line (tasks.BatchRef), and after
// each enqueue call the tracker notes which task each line went to, in one
// more pipelined round trip per Options.BatchSize rows.
type Tracker interface {
	ID() string
	Record(ctx context.Context, lines []int64, items []producer.Item, res []producer.Result, done []bool) error
}

// at sets the line of the row about to be mapped (row is nil without a
// Tracker). Lines past tasks.MaxBatchLine cannot be tracked; the mapper's
// validation rejects them.
func at(row *tasks.BatchRef, line int64) {
	if row != nil {
		row.Line = line
	}
}
