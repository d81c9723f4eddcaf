package worker

import (
	"context"
	"fmt"
)

// LaneWaiting returns how many handlers of each lane (high, default, low),
// in every worker process, hold a booked slot of endpoint's bucket
// (dashboards.BucketWaiting; docs/lanes.md).
func (w *Worker) LaneWaiting(ctx context.Context, endpoint string) ([3]int64, error) {
	b := w.buckets[endpoint]
	if b == nil {
		return [3]int64{}, fmt.Errorf("worker: unknown endpoint %q", endpoint)
	}
	return b.Waiting(ctx)
}
