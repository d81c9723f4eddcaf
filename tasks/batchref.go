package tasks

// BatchRef ties a task to the import batch it came from (docs/batches.md):
// the batch id and the row's input line (for the HTTP batch, the item's
// 1-based position). The worker counts the task in its batch when it ends
// (done or dead), once per line. Both are empty for a task that belongs to
// no batch, and cost nothing in its payload then.
type BatchRef struct {
	Batch string `json:"batch,omitempty"`
	Line  int64  `json:"line,omitempty"`
}

// MaxBatchLine bounds a batch line (the batch's done/dead bitmaps are
// indexed by it; 2^32 bits is Redis's limit for one bitmap).
const MaxBatchLine = 1<<32 - 1

// ValidBatchID reports whether id has the form of a batch id: 1 to 32
// characters of [a-z0-9].
func ValidBatchID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// InBatch reports whether the task belongs to a batch.
func (b BatchRef) InBatch() bool { return b.Batch != "" }

func (b BatchRef) validateBatch() error {
	switch {
	case b.Batch == "" && b.Line == 0:
		return nil
	case !ValidBatchID(b.Batch):
		return invalid("batch", "must be 1 to 32 characters of [a-z0-9], got %q", b.Batch)
	case b.Line < 1 || b.Line > MaxBatchLine:
		return invalid("line", "must be between 1 and %d, got %d", int64(MaxBatchLine), b.Line)
	}
	return nil
}
