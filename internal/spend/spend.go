// Package spend bounds what an SMS endpoint sends, counted in Redis across
// every worker process (SPEC §3.9, README "Configuration"): messages per
// phone number per calendar minute, hour and day, and messages per day on
// the account. Windows are calendar windows in China Standard Time
// (UTC+8, no daylight saving), whatever the host's zone.
//
// What is counted is a message, identified by its msgid (derived from the
// task id and the phone, vendorclient.MsgID), not an HTTP call: a retry of
// the same message within the day is not counted again, so a vendor
// timeout followed by a retry does not cap an OTP with per_minute: 1.
// The caller releases a count when no request for it reached the vendor, or
// the vendor said it sent nothing (handlers/spend.go decides which).
package spend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
)

// ErrRedis wraps a failed count: the caller does not send unchecked (a cap
// that fails open would not stop SMS pumping during a Redis outage).
var ErrRedis = errors.New("spend: counting in Redis failed")

// CST is China Standard Time, the zone of every window.
var CST = time.FixedZone("CST", 8*3600)

// Limits are one endpoint's bounds; 0 = no bound on that window.
type Limits struct {
	PerMinute, PerHour, PerDay int // messages to one phone number
	DailyBudget                int // messages on the endpoint
}

// On reports whether any bound is set (otherwise no Counter is needed and
// the send path costs nothing extra).
func (l Limits) On() bool {
	return l.PerMinute > 0 || l.PerHour > 0 || l.PerDay > 0 || l.DailyBudget > 0
}

// Verdict is what Take decided.
type Verdict int

const (
	// Allowed: the message may be sent; it is counted.
	Allowed Verdict = iota
	// PhoneCapped: the phone reached one of its limits (Result.Window).
	PhoneCapped
	// BudgetSpent: the endpoint sent DailyBudget messages today.
	BudgetSpent
)

// Result is Take's answer.
type Result struct {
	Verdict Verdict
	Window  string // PhoneCapped: "per_minute", "per_hour" or "per_day"
	// SentToday is the endpoint's messages counted today, this one included
	// when it was allowed.
	SentToday int
	// Day is the CST calendar day SentToday counts (YYYYMMDD).
	Day string
	// ResumeIn is the time left until 00:00 CST, when a new day (and
	// budget) begins.
	ResumeIn time.Duration
	// Hold releases the count taken for this message (nil when nothing was
	// taken now: refused, or counted by an earlier run of the same message).
	Hold *Hold
}

// Counter counts one endpoint's messages.
type Counter struct {
	rdb      redis.UniversalClient
	endpoint string
	lim      Limits
	now      func() time.Time
}

// New returns the counter of endpoint; now is its clock (nil = time.Now),
// injectable so that tests can turn the day.
func New(rdb redis.UniversalClient, endpoint string, l Limits, now func() time.Time) *Counter {
	if now == nil {
		now = time.Now
	}
	return &Counter{rdb: rdb, endpoint: endpoint, lim: l, now: now}
}

// Limits returns the counter's bounds.
func (c *Counter) Limits() Limits { return c.lim }

// slack keeps each key a minute past its window's end: the key's name
// already says which window it counts, so a late expiry is harmless, and it
// covers hosts whose clocks differ by less than that.
const slack = time.Minute

// Take checks the message msgID to phone against every bound and counts it
// when all allow it: one Redis round trip (one EVALSHA), atomic across
// processes, so two workers racing for a phone's last slot cannot both win.
func (c *Counter) Take(ctx context.Context, msgID, phone string) (Result, error) {
	now := c.now().In(CST)
	w := windowsAt(now)
	ks := []string{
		keys.SpendDay(c.endpoint, w.day),
		keys.PhoneCount(c.endpoint, "m", w.minute, phone),
		keys.PhoneCount(c.endpoint, "h", w.hour, phone),
		keys.PhoneCount(c.endpoint, "d", w.day, phone),
	}
	res, err := takeScript.Run(ctx, c.rdb, ks, msgID, c.lim.DailyBudget, c.lim.PerMinute, c.lim.PerHour, c.lim.PerDay,
		ms(w.minuteLeft+slack), ms(w.hourLeft+slack), ms(w.dayLeft+slack)).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("%w: endpoint %s: %w", ErrRedis, c.endpoint, err)
	}
	if len(res) != 3 {
		return Result{}, fmt.Errorf("%w: endpoint %s: unexpected answer %v", ErrRedis, c.endpoint, res)
	}
	r := Result{SentToday: int(res[1]), Day: w.day, ResumeIn: w.dayLeft}
	switch res[0] {
	case 0:
		r.Hold = &Hold{c: c, keys: ks, msgID: msgID}
	case 2:
		r.Verdict, r.Window = PhoneCapped, windowNames[min(max(res[2], 1), 3)-1]
	case 3:
		r.Verdict = BudgetSpent
	}
	return r, nil
}

var windowNames = [...]string{"per_minute", "per_hour", "per_day"}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// Hold is one message's count, until the caller knows whether it was sent.
type Hold struct {
	c     *Counter
	keys  []string
	msgID string
}

// Release gives the count back (the message was not sent). It is
// idempotent, and a count whose day has expired is left alone. It costs a
// Redis round trip, on failure paths only.
func (h *Hold) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, h.c.rdb, h.keys, h.msgID).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: endpoint %s: release: %w", ErrRedis, h.c.endpoint, err)
	}
	return nil
}

// windows are the calendar windows of one instant and the time left in each.
type windows struct {
	minute, hour, day             string
	minuteLeft, hourLeft, dayLeft time.Duration
}

func windowsAt(t time.Time) windows {
	t = t.In(CST)
	m := t.Truncate(time.Minute) // CST is a whole number of hours from UTC: truncating in UTC is exact
	h := t.Truncate(time.Hour)
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, CST)
	return windows{
		minute: t.Format("200601021504"), hour: t.Format("2006010215"), day: t.Format("20060102"),
		minuteLeft: m.Add(time.Minute).Sub(t), hourLeft: h.Add(time.Hour).Sub(t), dayLeft: d.AddDate(0, 0, 1).Sub(t),
	}
}

// UntilMidnight returns the time from t to the next 00:00 CST.
func UntilMidnight(t time.Time) time.Duration { return windowsAt(t).dayLeft }
