package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vendorq/vendorq/internal/spend"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// Spend protection of SMS endpoints (SPEC §3.9, README "Configuration"):
// phone_limits caps what one phone number receives per calendar minute,
// hour and day in China Standard Time, daily_budget what the account sends
// per day; both are counted in Redis across every worker process
// (internal/spend). A phone over a limit is not messaged and its part of the
// task is dead-lettered with code phone_cap (replayable once the window has
// passed); a spent budget pauses the endpoint until 00:00 CST the way a quota
// answer does (docs/vendors.md): tasks wait, nothing is dead-lettered.
//
// Cost: one Redis round trip (EVALSHA) per phone before its call, only on
// an endpoint that sets either key; another on the failure paths that give
// a count back. An endpoint that sets neither has no spender and pays
// nothing.

// Sentinel errors, wrapped in dead letters and hand-backs.
var (
	// ErrPhoneCap: phones were not messaged, being over their phone_limits.
	ErrPhoneCap = errors.New("phone over its phone_limits")
	// ErrDailyBudget: the endpoint's daily_budget is spent; the task waits for 00:00 CST.
	ErrDailyBudget = errors.New("daily_budget spent")
)

// CodePhoneCap is the dead-letter code of phones over their phone_limits.
const CodePhoneCap = "phone_cap"

// PhoneLimits caps the messages one phone number receives per calendar
// minute, hour and day in China Standard Time (0 = no cap on that window).
type PhoneLimits struct{ PerMinute, PerHour, PerDay int }

// spender counts one SMS endpoint's messages; nil when neither bound is set.
type spender struct {
	c     *spend.Counter
	today *dayGauge
}

func newSpender(d Deps, p Policy) (*spender, error) {
	l := spend.Limits{PerMinute: p.PhoneLimits.PerMinute, PerHour: p.PhoneLimits.PerHour, PerDay: p.PhoneLimits.PerDay, DailyBudget: p.DailyBudget}
	switch {
	case l.PerMinute < 0 || l.PerHour < 0 || l.PerDay < 0 || l.DailyBudget < 0:
		return nil, fmt.Errorf("handlers: endpoint %s: negative PhoneLimits or DailyBudget", p.Endpoint)
	case !l.On():
		return nil, nil
	case p.Kind != vendorclient.KindSMS:
		return nil, fmt.Errorf("handlers: endpoint %s: PhoneLimits and DailyBudget are for SMS endpoints only", p.Endpoint)
	}
	m, ep := d.Metrics, p.Endpoint
	return &spender{c: spend.New(d.Redis, ep, l, d.Now), today: &dayGauge{set: func(n int) { m.SetSMSSentToday(ep, n) }}}, nil
}

// spendCheck is the verdict on one phone before its call.
type spendCheck struct {
	capped bool        // over a phone limit (logged with which): park it, call nothing
	hold   *spend.Hold // the count taken for it (nil: none, or taken by an earlier run)
}

// checkSpend asks whether m may be sent. A spent budget pauses the endpoint
// and returns the hand-back for asynq as err; so does a Redis failure,
// because sending unchecked would defeat the cap (the task waits instead).
func (r *run) checkSpend(ctx context.Context, m vendorclient.SMS) (spendCheck, error) {
	s := r.h.spend
	if s == nil {
		return spendCheck{}, nil
	}
	res, err := s.c.Take(ctx, m.MsgID, m.Phone)
	if err != nil {
		return spendCheck{}, comeBackIn(2*time.Second, err)
	}
	s.today.show(res.Day, res.SentToday, res.ResumeIn)
	switch res.Verdict {
	case spend.PhoneCapped:
		r.log.Warn().Str("phone", tasks.MaskPhone(m.Phone)).Str("code", CodePhoneCap).Str("limit", res.Window).Msg("phone over its limit: not messaged")
		return spendCheck{capped: true}, nil
	case spend.BudgetSpent:
		return spendCheck{}, r.budgetSpent(ctx, res)
	}
	return spendCheck{hold: res.Hold}, nil
}

// budgetSpent pauses the endpoint fleet-wide until 00:00 CST through the
// same Limiter.Pause a quota answer uses (so no call leaves, whichever
// process holds the task, and vendorq_endpoint_paused says so), and hands
// the task back uncounted for that long.
func (r *run) budgetSpent(ctx context.Context, res spend.Result) error {
	budget := r.h.spend.c.Limits().DailyBudget
	shown := r.h.pause.covers(res.ResumeIn)
	if err := r.h.d.Limiter.Pause(ctx, res.ResumeIn, fmt.Sprintf("daily_budget %d spent", budget)); err != nil {
		r.log.Error().Err(err).Msg("could not pause the endpoint")
	}
	r.h.pause.pausedFor(res.ResumeIn)
	ev := r.log.Error()
	if shown { // this process already said so: one error line per pause, not per task
		ev = r.log.Debug()
	}
	ev.Int("daily_budget", budget).Int("sent_today", res.SentToday).Dur("pause_ms", res.ResumeIn).
		Time("until", time.Now().Add(res.ResumeIn)).Msg("daily SMS budget spent: endpoint PAUSED until 00:00 China Standard Time, tasks wait")
	// Back at midnight, spread over at most a minute: a day's backlog must
	// not wait a tenth of the pause (comeBackIn's spread) into the new day.
	delay := res.ResumeIn + time.Duration(rand.Float64()*float64(min(time.Minute, res.ResumeIn/10+time.Millisecond)))
	return &RetryError{Delay: delay, Cause: fmt.Errorf("%w (%d messages today)", ErrDailyBudget, res.SentToday)}
}

// settleSpend keeps or gives back the count taken for one phone once its
// calls are over. It is kept when a request reached the vendor and the
// answer does not say nothing was sent: success, and transient answers
// (a timeout may have delivered; a retry of the same msgid is not counted
// again, internal/spend). It is given back when no request left (no slot,
// the endpoint paused, Redis down: the message was refused before sending)
// or the vendor refused it (throttled, quota, permanent: nothing sent), so
// that such a phone is not capped nor the budget spent by messages that
// never went out.
func (r *run) settleSpend(ctx context.Context, hold *spend.Hold, called bool, last error) {
	if hold == nil {
		return
	}
	if called && !nothingSent(last) {
		return
	}
	// Detached: the task's context may be ending (shutdown), the count must not leak.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := hold.Release(ctx); err != nil {
		r.log.Warn().Err(err).Msg("could not give back a message's spend count: its phone and the day's budget count one message too many")
	}
}

// nothingSent reports whether the vendor's answer says the message was not
// sent (docs/vendors.md: throttled, quota and permanent answers refuse it).
func nothingSent(last error) bool {
	if last == nil {
		return false
	}
	switch vendorclient.ClassOf(last) {
	case vendorclient.ClassThrottled, vendorclient.ClassQuota, vendorclient.ClassPermanent:
		return true
	}
	return false
}

// parkRefused dead-letters the phones refused permanently by the vendor and
// those over their phone limits together, in one entry whose payload lists
// only them (the task id has one dead-letter entry). Its code is phone_cap
// when every parked phone was capped (replay it once the window is over),
// else the vendor's (the data needs a look first).
func (r *run) parkRefused(ctx context.Context, p tasks.SMSSend, refused, capped []string, code string, refusal error) error {
	all := len(p.Phones)
	q := p
	q.Phones = append(append([]string(nil), refused...), capped...)
	b, _ := json.Marshal(q)
	var cause error
	switch {
	case len(refused) == 0:
		code = CodePhoneCap
		cause = fmt.Errorf("%d of %d phones not messaged: %w", len(capped), all, ErrPhoneCap)
	case len(capped) == 0:
		cause = fmt.Errorf("%d of %d phones refused: %w", len(refused), all, refusal)
	default:
		cause = fmt.Errorf("%d of %d phones refused: %w; %d not messaged: %w", len(refused), all, refusal, len(capped), ErrPhoneCap)
	}
	return r.deadLetter(ctx, b, code, cause, "permanent")
}

// dayGauge shows the endpoint's messages counted today (as of the last
// check in this process) and drops to 0 at 00:00 CST, when the count starts
// again, even if no message comes by to say so. The fleet-wide value is the
// max over processes.
type dayGauge struct {
	set   func(n int)
	mu    sync.Mutex
	timer *time.Timer
	day   string // the CST day shown
	n     int    // the highest count seen for it
}

// show shows n for day. Concurrent handlers learn their counts out of
// order (one that took 3 may report after one that took 4), so within a
// day the gauge only rises; a new day starts again from its own count.
func (g *dayGauge) show(day string, n int, untilMidnight time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if day != g.day || n > g.n {
		g.day, g.n = day, n
		g.set(n)
	}
	rearm(&g.timer, untilMidnight, g.midnight)
}

// midnight shows 0 until the new day's first count.
func (g *dayGauge) midnight() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.day, g.n = "", 0
	g.set(0)
}

// covers reports whether this process already shows a pause lasting at
// least about d from now.
func (g *pauseGauge) covers(d time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !time.Now().Add(d - time.Second).After(g.until)
}
