package handlers

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vendorq/vendorq/internal/clock"
	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/tasks"
)

// SendWindow is the time of day, in China Standard Time, outside which no
// call of the Lanes it holds leaves (config send_window, docs/lanes.md).
type SendWindow struct {
	From, To time.Duration // since 00:00 CST; From after To wraps past midnight
	Lanes    []tasks.Priority
}

// ErrWindowClosed is the cause of a task handed back because its lane's
// send window is closed (no failure counted).
var ErrWindowClosed = errors.New("send window closed for this lane")

const day = 24 * time.Hour

// windowDecision is the whole rule: how long until a call of lane may
// leave under w at now (0 = now: no window, a lane it does not hold, or
// inside it). Pure, so that a table states it (window_test.go).
func windowDecision(now time.Time, w *SendWindow, lane tasks.Priority) time.Duration {
	if w == nil || !slices.Contains(w.Lanes, lane.Or()) {
		return 0
	}
	t := now.In(spend.CST)
	s := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	open := s >= w.From && s < w.To
	if w.From > w.To { // wraps past midnight
		open = s >= w.From || s < w.To
	}
	if open {
		return 0
	}
	wait := w.From - s
	if wait <= 0 {
		wait += day
	}
	return wait
}

// holdForWindow is the effect: nil when the call may leave now; else it
// waits in the handler when the window opens within the horizon (and the
// task's deadline), or hands the task back to come back shortly before the
// opening — half a horizon early, so that it is in a handler, waiting,
// when the window opens (asynq's forwarder moves due retries only once a
// second). A long wait gets no jitter: every held task should start at
// the opening.
func (r *run) holdForWindow(ctx context.Context) error {
	for logged := false; ; logged = true {
		wait := windowDecision(r.h.now(), r.h.pol.SendWindow, r.lane)
		if wait == 0 {
			return nil
		}
		left := r.h.pol.Horizon
		if dl, ok := ctx.Deadline(); ok {
			left = min(left, time.Until(dl)-50*time.Millisecond)
		}
		if wait > left {
			back := wait - max(left, 0)/2
			r.log.Debug().Str("lane", r.lane.String()).Dur("opens_in_ms", wait).Msg("send window closed for this lane; task waits")
			return &RetryError{Delay: back, Failure: false, Cause: ErrWindowClosed}
		}
		if !logged {
			r.log.Debug().Str("lane", r.lane.String()).Dur("opens_in_ms", wait).Msg("send window opens soon; waiting")
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return comeBackIn(time.Second, err)
		}
	}
}

// now is the handler's clock (Deps.Now, default time.Now).
func (h *Handler) now() time.Time {
	if h.d.Now != nil {
		return h.d.Now()
	}
	return time.Now()
}
