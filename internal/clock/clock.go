// Package clock holds the one context-aware sleep that handlers, the rate
// limiter and the vendor clients share, so that "wait d unless the task is
// cancelled" has one meaning everywhere.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, whichever comes first. It returns nil
// after a full wait and ctx's error otherwise; a d of zero or less returns
// nil at once, even on an ended ctx (nothing was waited for).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
