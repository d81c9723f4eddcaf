package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// What a Handler works with is defined here, in terms of this package and
// vendorclient only, so that the exported API takes no internal type (the
// worker adapts its rate limiter, dead-letter store and metrics to these,
// see internal/handlerdeps).

// Policy is one endpoint's rules: which vendor it calls, what tasks it takes
// and how long it waits, retries and pauses.
type Policy struct {
	Endpoint string            // the endpoint's name: its queue, its Redis keys, its metrics label
	Vendor   string            // the `vendor:` value, for logs and metrics only
	Kind     vendorclient.Kind // record:create or sms:send tasks
	// MaxRetry is how many transient failures are retried before the task
	// is dead-lettered (0 = dead-letter on the first one).
	MaxRetry int
	// QuotaPause is how long the endpoint stops after a quota answer
	// (0 = the config default, 10 minutes).
	QuotaPause time.Duration
	// Horizon is the longest a handler sleeps in-process for a slot or after
	// a throttled answer before handing the task back to the queue (0 = 30s).
	Horizon time.Duration
	// ThrottleInitial and ThrottleMax bound the in-handler pause after a
	// throttled answer (0 = 250ms growing to 8s).
	ThrottleInitial, ThrottleMax time.Duration
	// ValidateTable checks a record task's table in the vendor's form
	// (nil = any table the payload's own validation accepts).
	ValidateTable func(table string) error
	// PhoneLimits and DailyBudget bound an SMS endpoint's spend (spend.go);
	// zero values are off and cost nothing.
	PhoneLimits PhoneLimits
	DailyBudget int // messages per day in China Standard Time
	// SendWindow holds the calls of some lanes outside a time of day
	// (window.go; nil = none). The clock is Deps.Now.
	SendWindow *SendWindow
}

// Limiter is the endpoint's rate limit, shared by every worker process.
type Limiter interface {
	// Wait books the caller's call slot in its lane and sleeps until it, at
	// most horizon: a ready call of a higher lane goes before every waiting
	// call of a lower one, across processes (docs/lanes.md). When no slot
	// is free within horizon (or the endpoint is paused) it returns a
	// *NotNow at once. The Slot's Factor is set in every case.
	Wait(ctx context.Context, lane tasks.Priority, horizon time.Duration) (Slot, error)
	// Throttled reports a throttled answer: the endpoint's rate is cut and,
	// when hold > 0, no slot is handed out before hold has passed. It
	// returns the adaptive factor now in force.
	Throttled(ctx context.Context, hold time.Duration) (float64, error)
	// Pause stops every call on the endpoint for d (a longer pause in force
	// is kept); reason is stored with it for operators.
	Pause(ctx context.Context, d time.Duration, reason string) error
	// Rate returns the configured calls/second.
	Rate() float64
}

// Slot is what a Limiter grants.
type Slot struct {
	Waited time.Duration // time slept for the slot
	Factor float64       // adaptive factor in force (1 = the full rate)
}

// NotNow is the error Limiter.Wait returns when it grants no slot within
// the horizon: the task should come back after RetryIn, which is no failure.
type NotNow struct {
	Paused  bool          // the endpoint is paused (quota, or a vendor-advised wait)
	RetryIn time.Duration // when a slot may be free
	Cause   error
}

func (e *NotNow) Error() string {
	what := "next slot beyond the wait horizon"
	if e.Paused {
		what = "endpoint paused"
	}
	if e.Cause != nil {
		return fmt.Sprintf("%s (retry in %v): %v", what, e.RetryIn, e.Cause)
	}
	return fmt.Sprintf("%s (retry in %v)", what, e.RetryIn)
}

func (e *NotNow) Unwrap() error { return e.Cause }

// DeadLetters is the durable dead-letter queue.
type DeadLetters interface {
	Add(ctx context.Context, e DeadLetter) error
}

// DeadLetter is one parked task: what `enqueue dlq list` shows an operator.
type DeadLetter struct {
	ID, Type, Endpoint string // the asynq task id and type, and its endpoint
	Error              string // why: the class, the vendor code and its message
	Class, Code        string // the answer's class (docs/vendors.md) and the vendor's code
	Attempts           int    // vendor calls made, across runs and processes
	FirstAttempt       time.Time
	LastAttempt        time.Time
	Payload            json.RawMessage // possibly narrowed to what is left to do
}

// Metrics receives what a handler observes; every method is labelled by
// endpoint. A nil Metrics in Deps records nothing.
type Metrics interface {
	ObserveCall(endpoint, vendor, class, code string, took time.Duration) // one vendor exchange
	ObserveTokenWait(endpoint string, waited time.Duration)               // time spent waiting for a slot
	SetEffectiveRate(endpoint string, perSecond float64)                  // configured rate × adaptive factor
	SetPaused(endpoint string, paused bool)                               // the endpoint is paused (no calls)
	IncDeadLettered(endpoint, code string)                                // a task went to the DLQ
	SetSMSSentToday(endpoint string, n int)                               // messages counted today (spend.go)
}

type noMetrics struct{}

func (noMetrics) ObserveCall(string, string, string, string, time.Duration) {}
func (noMetrics) ObserveTokenWait(string, time.Duration)                    {}
func (noMetrics) SetEffectiveRate(string, float64)                          {}
func (noMetrics) SetPaused(string, bool)                                    {}
func (noMetrics) IncDeadLettered(string, string)                            {}
func (noMetrics) SetSMSSentToday(string, int)                               {}
