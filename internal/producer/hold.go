package producer

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/tasks"
)

// MaxHold bounds how far ahead a task may be held (enqueue --at/--in, the
// HTTP API's not_before): further is almost always a typo in the year,
// and a task parked for years is work nobody remembers.
const MaxHold = 366 * 24 * time.Hour

// ErrHoldTooFar is wrapped by Hold's refusal of a time beyond MaxHold.
var ErrHoldTooFar = errors.New("more than 366 days ahead")

// Hold decides how a task asked to wait until at is enqueued: the asynq
// options to pass to Prepare* (asynq.ProcessAt: the task is "scheduled",
// the worker does not see it before at; waiting costs no retry and is no
// failure), or none when at is zero or not after now (ready at once: a
// time that has passed is met, so a client resending a request later is
// not refused). The error (ErrHoldTooFar) says why; callers name the
// flag or field.
//
// The time is rounded up to a whole second (tasks.NotBefore: asynq keeps
// whole seconds, rounded down, and would run a task held until 10:00:05.7
// at 10:00:05.0).
func Hold(now, at time.Time) ([]asynq.Option, error) {
	switch {
	case at.IsZero() || !at.After(now):
		return nil, nil
	case at.Sub(now) > MaxHold:
		return nil, fmt.Errorf("%s is %w", at.Format(time.RFC3339), ErrHoldTooFar)
	}
	return []asynq.Option{tasks.NotBefore(at)}, nil
}
