package handlers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// RetryError asks asynq to run the task again after Delay. Failure says
// whether the attempt counts against the task's retry budget: throttling,
// quota pauses and waits for a rate-limit slot never do (docs/vendors.md).
type RetryError struct {
	Delay   time.Duration
	Failure bool
	Cause   error
}

func (e *RetryError) Error() string {
	kind := "wait"
	if e.Failure {
		kind = "retry"
	}
	return fmt.Sprintf("%s in %v: %v", kind, e.Delay.Round(time.Millisecond), e.Cause)
}

func (e *RetryError) Unwrap() error { return e.Cause }

// comeBackIn hands the task back to the queue for d, up to 10% more (so
// that tasks refused together do not return together), counting no failure.
func comeBackIn(d time.Duration, cause error) *RetryError {
	return &RetryError{Delay: later(d, rand.Float64()), Failure: false, Cause: cause}
}

// IsFailure is asynq's Config.IsFailure: only a *RetryError with Failure
// set, or an error vendorq did not produce (panic, lease expiry), counts.
func IsFailure(err error) bool {
	var re *RetryError
	if errors.As(err, &re) {
		return re.Failure
	}
	return true
}

// RetryDelay is asynq's Config.RetryDelayFunc: the handler's own delay when
// it gave one, exponential back-off otherwise (e.g. a worker killed mid-task).
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var re *RetryError
	if errors.As(err, &re) && re.Delay > 0 {
		return re.Delay
	}
	return transientBackoff(n)
}

// transientBackoff is the delay before retry number n+1 after n failures
// (decide's rule for transient answers, with its jitter drawn here).
func transientBackoff(n int) time.Duration {
	return around(grow(transientInitial, transientMax, n), transientSpread, rand.Float64())
}
