package worker

import (
	"context"
	"fmt"

	"github.com/vendorq/vendorq/internal/ratelimit"
)

// LanesWaiting returns, for each of endpoints in order, how many handlers
// of each lane (high, default, low), in every worker process, hold a
// booked slot of its bucket (dashboards.BucketWaiting; docs/lanes.md), in
// one pipelined round trip.
func (w *Worker) LanesWaiting(ctx context.Context, endpoints []string) ([][3]int64, error) {
	bs := make([]*ratelimit.Bucket, len(endpoints))
	for i, ep := range endpoints {
		if bs[i] = w.buckets[ep]; bs[i] == nil {
			return nil, fmt.Errorf("worker: unknown endpoint %q", ep)
		}
	}
	return ratelimit.WaitingOf(ctx, w.rdb, bs)
}
