package handlers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hibiken/asynq"
)

// RetryError asks asynq to run the task again after Delay. Failure says
// whether the attempt counts against the task's retry budget: throttling,
// quota pauses and waits for a rate-limit slot never do (SPEC §2.5).
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

// transientBackoff is the delay before retry number n+1 after n failures:
// 1s, 2s, 4s … capped at 10 minutes, each randomised by ±50% so that tasks
// failing together do not come back together.
func transientBackoff(n int) time.Duration {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = time.Second
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxInterval = 10 * time.Minute
	b.MaxElapsedTime = 0
	b.Reset()
	d := b.NextBackOff()
	for i := 0; i < n && i < 30; i++ {
		d = b.NextBackOff()
	}
	return d
}

// throttleBackoff returns the in-handler pause after the k-th throttled
// answer in a row: initial growing ×2 up to limit, jittered, never shorter
// than the vendor's own suggestion.
func throttleBackoff(k int, initial, limit, suggested time.Duration) time.Duration {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.Multiplier = 2
	b.RandomizationFactor = 0.3
	b.MaxInterval = limit
	b.MaxElapsedTime = 0
	b.Reset()
	d := b.NextBackOff()
	for i := 0; i < k && i < 20; i++ {
		d = b.NextBackOff()
	}
	return max(d, suggested)
}

// jitter adds up to 10% to d so that paused tasks do not all wake at once.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}
