package handlers

import (
	"fmt"
	"time"

	"github.com/vendorq/vendorq/vendorclient"
)

// decide is the outcome table of docs/vendors.md ("What every outcome
// means") as one pure function: what one vendor answer means for this run,
// given the task's failures so far and the endpoint's policy. It touches
// nothing (no Redis, no clock, no randomness of its own), so that every rule
// is tested by a table in decide_test.go; run.apply (effects.go) carries the
// decision out. River's JobSnooze/JobCancel and asynq's handleFailedMessage
// have the same shape: a small verdict, then its effects.

// action is what the run does next.
type action int

const (
	actDone       action = iota // the vendor accepted the call
	actCallAgain                // sleep delay in-process, then call again
	actHandBack                 // back to the queue for delay; not a failure
	actPause                    // pause the endpoint, then back to the queue for delay; not a failure
	actRetry                    // back to the queue for delay; counts against max_retry
	actDeadLetter               // park the task in the dead-letter queue now
)

var actionNames = [...]string{"done", "call_again", "hand_back", "pause", "retry", "dead_letter"}

func (a action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// input is everything decide looks at.
type input struct {
	class vendorclient.Class
	code  string // the vendor's code ("4004", "8201", "http_503", …)
	// suggested is the vendor's advised wait: Retry-After, or caihcom's
	// documented 10 minutes for 8201–8203 (0 = none).
	suggested time.Duration
	failures  int // failed runs of the task so far (asynq's retry count)
	throttles int // throttled answers earlier in this run
	policy    Policy
	// random draws the jitter, uniform in [0, 1); nil = no jitter, so that a
	// table can state exact delays.
	random func() float64
}

// decision is decide's verdict.
type decision struct {
	action  action
	delay   time.Duration // the in-process sleep (actCallAgain) or the time in the queue
	failure bool          // the run counts against max_retry (actRetry only)
	// slow cuts the endpoint's adaptive rate (a throttled answer); hold also
	// keeps every slot closed for that long (the vendor's advice).
	slow bool
	hold time.Duration
	// pause stops every call on the endpoint for that long (actPause);
	// reason is stored with it for operators.
	pause  time.Duration
	reason string
	// The dead-letter entry's class and code (actDeadLetter); gaveUp says
	// the retry budget was spent (the error says how many retries).
	dlqClass, code string
	gaveUp         bool
}

const (
	// advisedPauseAt: a vendor-advised wait at least this long (caihcom
	// 8201–8203 advise 10 minutes, a 429 may carry Retry-After) pauses the
	// endpoint like a quota answer rather than only holding its bucket, so
	// that vendorq_endpoint_paused and the log say so. The bar is fixed, not
	// the in-process horizon: what operators are told must not depend on a
	// tuning knob (tests run with a 1ns horizon), and a wait under a minute
	// is over before a Prometheus scrape (15s–1m) or an operator would see it.
	advisedPauseAt = time.Minute
	// maxAdvised caps a vendor's advised wait: the answer is input, and a
	// Retry-After of a day must not stop an endpoint for a day unasked.
	// (quota_pause, which an operator configured, is not capped.)
	maxAdvised = time.Hour
	// Transient failures back off 1s, 2s, 4s … up to 10 minutes, ±50%, so
	// that tasks failing together do not come back together.
	transientInitial = time.Second
	transientMax     = 10 * time.Minute
	transientSpread  = 0.5
	// The in-handler throttle back-off (Policy bounds) is jittered ±30%.
	throttleSpread = 0.3
	// A task handed back to the queue returns up to 10% later than asked
	// (never earlier: it would find the endpoint still paused).
	handBackSpread = 0.1
)

func decide(in input) decision {
	suggested := min(in.suggested, maxAdvised)
	if in.code == vendorclient.CodeUntrustedAnswer {
		// Nothing in the answer can be believed, so the record may exist:
		// no class makes sending it again safe. The client says permanent;
		// this holds even if a client ever said otherwise.
		return decision{action: actDeadLetter, dlqClass: vendorclient.ClassPermanent.String(), code: in.code}
	}
	switch in.class {
	case vendorclient.ClassOK: // 4010 included: the record exists, never call again
		return decision{action: actDone}
	case vendorclient.ClassThrottled: // never a failure, whatever the budget left
		return decideThrottled(in, suggested)
	case vendorclient.ClassQuota: // never a failure: the endpoint waits, nothing is lost
		pause := max(in.policy.QuotaPause, suggested)
		return decision{action: actPause, pause: pause, delay: later(pause, in.draw(0)), reason: "quota " + in.code}
	case vendorclient.ClassPermanent:
		return decision{action: actDeadLetter, dlqClass: in.class.String(), code: in.code}
	}
	// Transient, and token: the client already refreshed the shared token
	// and retried once, so a token answer here is a failure like any other.
	if in.failures >= in.policy.MaxRetry {
		return decision{action: actDeadLetter, dlqClass: in.class.String(), code: in.code, gaveUp: true}
	}
	backoff := around(grow(transientInitial, transientMax, in.failures), transientSpread, in.draw(0.5))
	return decision{action: actRetry, failure: true, delay: max(backoff, suggested)}
}

// decideThrottled: slow the endpoint down and call again after a growing
// back-off while it fits the horizon, else hand the task back; a long
// vendor-advised wait pauses the endpoint (see advisedPauseAt).
func decideThrottled(in input, suggested time.Duration) decision {
	d := decision{slow: true, reason: "throttled " + in.code}
	if suggested >= advisedPauseAt {
		d.action, d.pause, d.delay = actPause, suggested, later(suggested, in.draw(0))
		return d
	}
	d.hold = suggested
	p := in.policy
	wait := max(around(grow(p.ThrottleInitial, p.ThrottleMax, in.throttles), throttleSpread, in.draw(0.5)), suggested)
	if wait <= p.Horizon {
		d.action, d.delay = actCallAgain, wait
		return d
	}
	d.action, d.delay = actHandBack, later(wait, in.draw(0))
	return d
}

// draw returns a random number in [0, 1), or neutral without a source.
func (in input) draw(neutral float64) float64 {
	if in.random == nil {
		return neutral
	}
	return in.random()
}

// grow returns initial doubled k times, at most limit.
func grow(initial, limit time.Duration, k int) time.Duration {
	d := initial
	for i := 0; i < k && d > 0 && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// around spreads d over [d(1-f), d(1+f)) as u goes over [0, 1).
func around(d time.Duration, f, u float64) time.Duration {
	return d + time.Duration(float64(d)*f*(2*u-1))
}

// later spreads d over [d, d(1+handBackSpread)) as u goes over [0, 1).
func later(d time.Duration, u float64) time.Duration {
	return d + time.Duration(float64(d)*handBackSpread*u)
}
