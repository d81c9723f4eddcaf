package handlers

import (
	"testing"
	"time"

	"github.com/vendorq/vendorq/vendorclient"
)

// The outcome table of docs/vendors.md at every retry-budget edge, without
// Redis or asynq: decide is pure, and with no random source its delays are
// the exact, unjittered ones.
func TestDecide(t *testing.T) {
	pol := Policy{
		Endpoint: "forms", Vendor: "baibaoyun", Kind: vendorclient.KindRecord, MaxRetry: 3,
		QuotaPause: 5 * time.Minute, Horizon: 30 * time.Second,
		ThrottleInitial: 250 * time.Millisecond, ThrottleMax: 8 * time.Second,
	}
	with := func(f func(*Policy)) Policy { p := pol; f(&p); return p }
	noRetry := with(func(p *Policy) { p.MaxRetry = 0 })
	shortHorizon := with(func(p *Policy) { p.Horizon = time.Second })
	const (
		ok        = vendorclient.ClassOK
		throttled = vendorclient.ClassThrottled
		quota     = vendorclient.ClassQuota
		transient = vendorclient.ClassTransient
		token     = vendorclient.ClassToken
		permanent = vendorclient.ClassPermanent
	)
	callAgain := func(d, hold time.Duration, reason string) decision {
		return decision{action: actCallAgain, delay: d, slow: true, hold: hold, reason: reason}
	}
	retry := func(d time.Duration) decision { return decision{action: actRetry, delay: d, failure: true} }
	dead := func(class, code string, gaveUp bool) decision {
		return decision{action: actDeadLetter, dlqClass: class, code: code, gaveUp: gaveUp}
	}
	pause := func(d time.Duration, slow bool, reason string) decision {
		return decision{action: actPause, delay: d, pause: d, slow: slow, reason: reason}
	}
	cases := []struct {
		name string
		in   input
		want decision
	}{
		{"ok", input{class: ok, code: "ok", policy: pol}, decision{action: actDone}},
		{"ok 4010 (record exists, warning) on the last retry", input{class: ok, code: "4010", failures: 3, policy: pol}, decision{action: actDone}},

		{"throttled first: shortest back-off, bucket slowed", input{class: throttled, code: "4004", policy: pol}, callAgain(250*time.Millisecond, 0, "throttled 4004")},
		{"throttled fifth in a row: back-off grows", input{class: throttled, code: "4004", throttles: 4, policy: pol}, callAgain(4*time.Second, 0, "throttled 4004")},
		{"throttled many: back-off capped", input{class: throttled, code: "414", throttles: 50, policy: pol}, callAgain(8*time.Second, 0, "throttled 414")},
		{"throttled on the last retry: no dead letter, no failure", input{class: throttled, code: "4004", failures: 3, policy: pol}, callAgain(250*time.Millisecond, 0, "throttled 4004")},
		{"throttled past the budget (asynq recovery counted)", input{class: throttled, code: "4004", failures: 9, policy: pol}, callAgain(250*time.Millisecond, 0, "throttled 4004")},
		{"throttled with max_retry 0", input{class: throttled, code: "4004", policy: noRetry}, callAgain(250*time.Millisecond, 0, "throttled 4004")},
		{"throttle back-off beyond the horizon: hand back", input{class: throttled, code: "4004", throttles: 3, policy: shortHorizon},
			decision{action: actHandBack, delay: 2 * time.Second, slow: true, reason: "throttled 4004"}},
		{"Retry-After longer than the back-off: wait that, hold the bucket", input{class: throttled, code: "http_429", suggested: 5 * time.Second, policy: pol},
			callAgain(5*time.Second, 5*time.Second, "throttled http_429")},
		{"Retry-After beyond the horizon but under a minute: hand back, hold, no pause", input{class: throttled, code: "http_429", suggested: 45 * time.Second, policy: pol},
			decision{action: actHandBack, delay: 45 * time.Second, slow: true, hold: 45 * time.Second, reason: "throttled http_429"}},
		{"8201 (wait 10 minutes) on the last retry: pause, throttled, no failure", input{class: throttled, code: "8201", suggested: 10 * time.Minute, failures: 3, policy: pol},
			pause(10*time.Minute, true, "throttled 8201")},
		{"Retry-After of exactly a minute pauses", input{class: throttled, code: "http_429", suggested: time.Minute, policy: pol}, pause(time.Minute, true, "throttled http_429")},
		{"Retry-After of a day is capped at an hour", input{class: throttled, code: "http_429", suggested: 24 * time.Hour, policy: pol}, pause(time.Hour, true, "throttled http_429")},

		{"quota on the first call: pause quota_pause", input{class: quota, code: "4005", policy: pol}, pause(5*time.Minute, false, "quota 4005")},
		{"quota on the last retry: pause, not a failure", input{class: quota, code: "413", failures: 3, policy: pol}, pause(5*time.Minute, false, "quota 413")},
		{"quota with max_retry 0", input{class: quota, code: "8401", policy: noRetry}, pause(5*time.Minute, false, "quota 8401")},
		{"quota with a longer vendor-advised wait", input{class: quota, code: "8401", suggested: 20 * time.Minute, policy: pol}, pause(20*time.Minute, false, "quota 8401")},
		{"quota: a shorter advised wait keeps quota_pause", input{class: quota, code: "4005", suggested: time.Second, policy: pol}, pause(5*time.Minute, false, "quota 4005")},

		{"transient first: retry in 1s, a failure", input{class: transient, code: "9999", policy: pol}, retry(time.Second)},
		{"transient below max_retry", input{class: transient, code: "http_503", failures: 2, policy: pol}, retry(4 * time.Second)},
		{"transient at max_retry: dead-letter", input{class: transient, code: "9999", failures: 3, policy: pol}, dead("transient", "9999", true)},
		{"transient above max_retry: dead-letter", input{class: transient, code: "9999", failures: 5, policy: pol}, dead("transient", "9999", true)},
		{"transient with max_retry 0: dead-letter on the first", input{class: transient, code: "timeout", policy: noRetry}, dead("transient", "timeout", true)},
		{"transient: Retry-After longer than the back-off wins", input{class: transient, code: "http_503", suggested: 30 * time.Second, policy: pol}, retry(30 * time.Second)},
		{"transient: back-off capped at 10 minutes", input{class: transient, code: "800", failures: 20, policy: with(func(p *Policy) { p.MaxRetry = 25 })}, retry(10 * time.Minute)},
		{"unknown class counts as transient", input{class: vendorclient.Class(42), code: "error", policy: pol}, retry(time.Second)},

		{"token after refresh: a transient failure", input{class: token, code: "http_401", policy: pol}, retry(time.Second)},
		{"token after refresh at max_retry: dead-letter", input{class: token, code: "http_401", failures: 3, policy: pol}, dead("token", "http_401", true)},

		{"permanent on the first call: dead-letter at once", input{class: permanent, code: "4001", policy: pol}, dead("permanent", "4001", false)},
		{"permanent on the last retry", input{class: permanent, code: "8306", failures: 3, policy: pol}, dead("permanent", "8306", false)},
		{"permanent with max_retry 0", input{class: permanent, code: "409", policy: noRetry}, dead("permanent", "409", false)},

		// An answer that fails its integrity check (yesapi _auth): the record
		// may exist, so it is never sent again, whatever the budget left.
		{"untrusted answer on the first call: dead-letter at once", input{class: permanent, code: "untrusted_answer", policy: pol}, dead("permanent", "untrusted_answer", false)},
		{"untrusted answer on the last retry", input{class: permanent, code: "untrusted_answer", failures: 3, policy: pol}, dead("permanent", "untrusted_answer", false)},
		{"untrusted answer with max_retry 0", input{class: permanent, code: "untrusted_answer", policy: noRetry}, dead("permanent", "untrusted_answer", false)},
		{"untrusted answer classed transient: still never retried", input{class: transient, code: "untrusted_answer", policy: pol}, dead("permanent", "untrusted_answer", false)},
		{"untrusted answer classed throttled: no call again", input{class: throttled, code: "untrusted_answer", policy: pol}, dead("permanent", "untrusted_answer", false)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decide(c.in)
			if got != c.want {
				t.Fatalf("decide(%s %s, failures %d, throttles %d)\n got %+v\nwant %+v", c.in.class, c.in.code, c.in.failures, c.in.throttles, got, c.want)
			}
			if got.failure != (got.action == actRetry) {
				t.Fatalf("only a retry counts as a failure: %+v", got)
			}
		})
	}
}

// Jitter spreads each delay within its documented band, from the random
// source given (so decide stays pure: the same source, the same decision).
func TestDecideJitterBands(t *testing.T) {
	pol := Policy{MaxRetry: 3, QuotaPause: time.Minute, Horizon: time.Second, ThrottleInitial: 100 * time.Millisecond, ThrottleMax: 8 * time.Second}
	cases := []struct {
		name   string
		in     input
		lo, hi time.Duration // delay in [lo, hi)
	}{
		{"throttle ±30%", input{class: vendorclient.ClassThrottled, throttles: 1, policy: pol}, 140 * time.Millisecond, 260 * time.Millisecond},
		{"hand back: never earlier, up to 10% later", input{class: vendorclient.ClassThrottled, throttles: 5, policy: pol}, 2240 * time.Millisecond, 4576 * time.Millisecond},
		{"quota pause: never earlier", input{class: vendorclient.ClassQuota, policy: pol}, time.Minute, 66 * time.Second},
		{"transient ±50%", input{class: vendorclient.ClassTransient, failures: 2, policy: pol}, 2 * time.Second, 6 * time.Second},
	}
	for _, c := range cases {
		for _, u := range []float64{0, 0.5, 0.999999} {
			c.in.random = func() float64 { return u }
			first, again := decide(c.in), decide(c.in)
			if d := first.delay; d < c.lo || d >= c.hi {
				t.Errorf("%s, u=%v: delay %v not in [%v, %v)", c.name, u, d, c.lo, c.hi)
			}
			if first != again {
				t.Errorf("%s: two decisions from the same source differ", c.name)
			}
		}
	}
}
