// Package ratelimit keeps one token bucket per endpoint in Redis, shared by
// every worker process, and lets a handler wait for its call slot instead of
// cycling its task through Redis.
//
// The bucket is GCRA (generic cell rate algorithm) with reservations: one
// script call both checks the endpoint's quota pause and adaptive rate cut
// and books the caller's slot; the caller then sleeps until its slot. So a
// granted call costs one Redis round trip, however many workers wait.
//
// Adaptive: a throttled answer cuts the endpoint's rate (by Cut, at most
// once per Debounce, down to MinFactor), so a vendor that keeps refusing is
// soon called far more slowly, while one refusal caused by network jitter
// costs little; the rate recovers by RecoverStep every RecoverEvery. A
// vendor's Retry-After holds the whole bucket until then.
//
// Lanes (lanes.go, docs/lanes.md): a caller of a higher lane takes over the
// earliest slot a lower lane booked and has not used yet, so a high task
// never waits behind the slots that low tasks of every process reserved.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/clock"
	"github.com/vendorq/vendorq/internal/keys"
)

// Sentinel errors.
var (
	// ErrPaused: the endpoint is paused (quota); Wait's *WaitError says until when.
	ErrPaused = errors.New("ratelimit: endpoint paused")
	// ErrTooLong: the next free slot is beyond the caller's horizon.
	ErrTooLong = errors.New("ratelimit: next slot beyond the wait horizon")
)

// WaitError says why Wait gave up and how long the caller should stay away.
type WaitError struct {
	Reason error // ErrPaused or ErrTooLong
	Delay  time.Duration
}

func (e *WaitError) Error() string { return fmt.Sprintf("%v (retry in %v)", e.Reason, e.Delay) }
func (e *WaitError) Unwrap() error { return e.Reason }

// Tuning of the adaptive cut; defaults are used for zero values.
type Tuning struct {
	// Safety stretches the spacing of calls by this fraction so that jitter
	// between booking a slot and the call reaching the vendor (scheduling,
	// network) does not put rate+1 calls in a vendor's 1-second window: at
	// 5/s, 0.03 tolerates 30 ms of jitter and uses 97% of the rate; a call
	// later than that is held back by the send-time guard (see guard).
	Safety       float64
	Cut          float64       // factor applied per throttled answer (default 0.8)
	MinFactor    float64       // lowest factor (default 0.1 of the rate)
	RecoverStep  float64       // rate fraction regained per step (default 0.05)
	RecoverEvery time.Duration // step length (default 1s)
	Debounce     time.Duration // throttles closer than this to the last cut cut once (default 1s)
	// GuardMaxRate: the send-time guard runs for rates up to this (default
	// 100/s). It costs a Redis round trip per call and a window of rate
	// entries; above ~100/s a few ms of jitter is within any vendor's slack.
	GuardMaxRate float64
}

func (t Tuning) withDefaults() Tuning {
	if t.Safety == 0 {
		t.Safety = 0.03
	}
	if t.Cut == 0 {
		t.Cut = 0.8
	}
	if t.MinFactor == 0 {
		t.MinFactor = 0.1
	}
	if t.RecoverStep == 0 {
		t.RecoverStep = 0.05
	}
	if t.RecoverEvery == 0 {
		t.RecoverEvery = time.Second
	}
	if t.Debounce == 0 {
		t.Debounce = time.Second
	}
	if t.GuardMaxRate == 0 {
		t.GuardMaxRate = 100
	}
	return t
}

// Bucket is one endpoint's shared limiter.
type Bucket struct {
	rdb      redis.UniversalClient
	endpoint string
	rate     float64
	burst    int
	tune     Tuning
	keys     []string // bucket, pause, adapt, sends
	lanes    []string // the lane sets, highest first (lanes.go)
}

// New returns the bucket of endpoint at rate calls/second with burst.
// rate 0 means unlimited (Wait only honours pauses).
func New(rdb redis.UniversalClient, endpoint string, rate float64, burst int, t Tuning) *Bucket {
	if burst < 1 {
		burst = 1
	}
	return &Bucket{
		rdb: rdb, endpoint: endpoint, rate: rate, burst: burst, tune: t.withDefaults(),
		keys:  []string{keys.Bucket(endpoint), keys.Pause(endpoint), keys.Adapt(endpoint), keys.Sends(endpoint)},
		lanes: laneKeys(endpoint),
	}
}

// Grant is the outcome of a successful Wait.
type Grant struct {
	Waited time.Duration // time from Wait's call to the go-ahead
	Factor float64       // adaptive factor in force (1 = full rate)
	// TakenOver counts the times a higher lane took this caller's booked
	// slot while it slept (it then booked again); TookOver says its slot
	// was one a lower lane had booked (lanes.go).
	TakenOver int
	TookOver  bool
}

// reserveScript books the next call slot: the earliest slot a lower lane
// booked and has not used yet, if it comes before the end of the line and
// within the horizon (lanes.go), else the next one at the end of the line.
//
// KEYS[1] bucket: GCRA theoretical arrival time (TAT), microseconds since epoch
// KEYS[2] pause:  exists while the endpoint is paused (PTTL = time left)
// KEYS[3] adapt:  hash {cut = factor after the last throttle, at = its time in µs}
// KEYS[4], KEYS[5], KEYS[6] the lane sets high, default, low (member = caller, score = slot µs)
// ARGV[1] base emission interval in µs (1e6/rate, safety applied); 0 = unlimited
// ARGV[2] burst (slots that may be booked back to back)
// ARGV[3] horizon in µs: book only a slot that starts within it
// ARGV[4] recover step (fraction of the rate regained per step)
// ARGV[5] recover period in µs
// ARGV[6] the caller's lane: 0 = high, 1 = default, 2 = low
// ARGV[7] the caller's member in the lane sets; "" = lanes not tracked (no guard)
// ARGV[8] keep in µs: a booking older than that is dropped from its set
// Returns {status, wait_µs, factor_permille}: status 1 = booked (sleep wait),
// 2 = took over a lower lane's booked slot (sleep wait), 0 = next slot beyond
// horizon (wait = how far), -1 = paused (wait = time left).
var reserveScript = redis.NewScript(`
local pttl = redis.call("PTTL", KEYS[2])
if pttl > 0 or pttl == -1 then
  if pttl == -1 then pttl = 1000 end
  return {-1, pttl * 1000, 1000}
end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local factor = 1.0
local cut = redis.call("HMGET", KEYS[3], "cut", "at")
if cut[1] then
  local steps = math.floor((now - tonumber(cut[2])) / tonumber(ARGV[5]))
  factor = tonumber(cut[1]) + steps * tonumber(ARGV[4])
  if factor >= 1 then
    factor = 1.0
    redis.call("DEL", KEYS[3])
  end
end
local base = tonumber(ARGV[1])
if base == 0 then
  return {1, 0, math.floor(factor * 1000)}
end
local interval = base / factor
local burst = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local lane = tonumber(ARGV[6])
local member = ARGV[7]
local keep = tonumber(ARGV[8])
local old = string.format("%.0f", now - keep)
local tat = tonumber(redis.call("GET", KEYS[1]) or "0")
if tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
if member ~= "" and wait > 0 then
  local best, bkey, bmember
  for l = lane + 1, 2 do
    local k = KEYS[4 + l]
    redis.call("ZREMRANGEBYSCORE", k, "-inf", old)
    local e = redis.call("ZRANGEBYSCORE", k, string.format("%.0f", now), "+inf", "WITHSCORES", "LIMIT", 0, 1)
    if e[1] and (best == nil or tonumber(e[2]) < best) then
      best, bkey, bmember = tonumber(e[2]), k, e[1]
    end
  end
  if best and best - now < wait and best - now <= horizon then
    redis.call("ZREM", bkey, bmember)
    redis.call("ZADD", KEYS[4 + lane], string.format("%.0f", best), member)
    redis.call("PEXPIRE", KEYS[4 + lane], math.floor((tat - now + keep) / 1000) + 1000)
    return {2, math.floor(best - now), math.floor(factor * 1000)}
  end
end
if wait > horizon then
  return {0, math.floor(wait), math.floor(factor * 1000)}
end
local newtat = tat + interval
redis.call("SET", KEYS[1], string.format("%.0f", newtat), "PX", math.floor((newtat - now) / 1000) + 1000)
if member ~= "" then
  local own = KEYS[4 + lane]
  redis.call("ZREMRANGEBYSCORE", own, "-inf", old)
  redis.call("ZADD", own, string.format("%.0f", now + wait), member)
  redis.call("PEXPIRE", own, math.floor((newtat - now + keep) / 1000) + 1000)
end
return {1, math.floor(wait), math.floor(factor * 1000)}
`)

// Wait books the caller's slot in its lane and sleeps until it, bounded by
// ctx and by horizon (the longest the caller waits in all). It returns a
// *WaitError (ErrPaused or ErrTooLong, with the delay to come back after)
// without sleeping when the slot is further away than what is left of
// horizon. A slot a higher lane takes over while the caller sleeps is
// booked again (lanes.go), within the same horizon.
func (b *Bucket) Wait(ctx context.Context, lane Lane, horizon time.Duration) (Grant, error) {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 50*time.Millisecond; left < horizon {
			horizon = max(left, 0)
		}
	}
	start := time.Now()
	member := ""
	if b.tracksLanes() {
		member = newMember()
	}
	lane = lane.valid()
	var g Grant
	for left := horizon; ; left = max(horizon-time.Since(start), 0) {
		wait, took, err := b.reserve(ctx, lane, member, left, &g)
		if err != nil {
			return g, err
		}
		g.TookOver = took
		if err := clock.Sleep(ctx, wait); err != nil {
			return g, err
		}
		taken, err := b.guard(ctx, lane, member)
		if taken {
			g.TakenOver++
			continue
		}
		g.Waited = time.Since(start)
		return g, err
	}
}

// reserve runs reserveScript once: the time to sleep until the booked
// slot, and whether it was taken over from a lower lane.
func (b *Bucket) reserve(ctx context.Context, lane Lane, member string, horizon time.Duration, g *Grant) (time.Duration, bool, error) {
	base := 0.0
	if b.rate > 0 {
		base = math.Round(1e6 / b.rate * (1 + b.tune.Safety))
	}
	res, err := reserveScript.Run(ctx, b.rdb, append(b.keys[:3:3], b.lanes...),
		strconv.FormatFloat(base, 'f', 0, 64), b.burst, horizon.Microseconds(),
		strconv.FormatFloat(b.tune.RecoverStep, 'f', -1, 64), b.tune.RecoverEvery.Microseconds(),
		int(lane), member, laneKeep.Microseconds()).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	status, wait := res[0], time.Duration(res[1])*time.Microsecond
	g.Factor = float64(res[2]) / 1000
	switch status {
	case -1:
		return 0, false, &WaitError{Reason: ErrPaused, Delay: wait}
	case 0:
		return 0, false, &WaitError{Reason: ErrTooLong, Delay: wait}
	}
	return wait, status == 2, nil
}

// guardScript is the last check before a call leaves, against the vendor's
// own rule: at most limit calls in any sliding window. GCRA spacing keeps
// calls apart when they leave on time; a caller that wakes late (a busy
// machine, a GC pause) leaves closer to the next one, and this check, made
// on actual send times, holds back the call that would make limit+1.
//
// It also re-checks the quota pause: a caller that booked its slot before
// the endpoint was paused must not call during the pause. And it first
// takes the caller's booking out of its lane set: when it is gone, a higher
// lane took the slot over (lanes.go) and the caller must book again.
//
// KEYS[1] sorted set of recent send times of the endpoint (µs); KEYS[2] pause
// KEYS[3] the caller's lane set
// ARGV[1] window µs; ARGV[2] limit; ARGV[3] unique member for this send
// ARGV[4] the caller's member in its lane set ("" = nothing to check: lanes
// not tracked, or checked by an earlier round of this send)
// Returns {status, µs}: 0 = the send is recorded (go now), 1 = wait µs
// before asking again, 2 = paused for µs, 3 = the slot was taken over.
var guardScript = redis.NewScript(`
if ARGV[4] ~= "" and redis.call("ZREM", KEYS[3], ARGV[4]) == 0 then
  return {3, 0}
end
local pttl = redis.call("PTTL", KEYS[2])
if pttl > 0 or pttl == -1 then
  if pttl == -1 then pttl = 1000 end
  return {2, pttl * 1000}
end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", string.format("%.0f", now - window))
local n = redis.call("ZCARD", KEYS[1])
if n < limit then
  redis.call("ZADD", KEYS[1], string.format("%.0f", now), ARGV[3])
  redis.call("PEXPIRE", KEYS[1], math.floor(window / 1000) + 1000)
  return {0, 0}
end
local s = redis.call("ZRANGE", KEYS[1], n - limit, n - limit, "WITHSCORES")
return {1, math.floor(tonumber(s[2]) + window - now) + 1}
`)

// window returns the guard's sliding window and the calls it allows: the
// vendor's 1-second window for integral rates (5/s: 5 per second), and
// limit/rate seconds otherwise (2.5/s: 2 per 0.8 s), stretched by the same
// safety margin as the bucket's spacing. Calls that leave on time are never
// held (they are that far apart already); a call that woke late is held
// until it is, so jitter between here and the vendor up to the margin
// (30 ms at 5/s) cannot put rate+1 calls in the vendor's window.
func (b *Bucket) window() (time.Duration, int) {
	limit := max(1, int(math.Floor(b.rate)))
	w := time.Duration(float64(limit) / b.rate * (1 + b.tune.Safety) * float64(time.Second))
	return w, limit
}

// guard records this send in the endpoint's window, waiting first while the
// window is full. taken reports that a higher lane took the caller's slot
// over (book again; nothing was recorded).
func (b *Bucket) guard(ctx context.Context, lane Lane, member string) (taken bool, err error) {
	if !b.tracksLanes() {
		return false, nil
	}
	w, limit := b.window()
	keys := []string{b.keys[3], b.keys[1], b.lanes[lane]}
	for {
		res, err := guardScript.Run(ctx, b.rdb, keys, w.Microseconds(), limit, newMember(), member).Int64Slice()
		if err != nil {
			return false, fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
		}
		member = "" // checked: a second round only waits for the window
		d := time.Duration(res[1]) * time.Microsecond
		switch res[0] {
		case 0:
			return false, nil
		case 2:
			return false, &WaitError{Reason: ErrPaused, Delay: d}
		case 3:
			return true, nil
		}
		if err := clock.Sleep(ctx, d); err != nil {
			return false, err
		}
	}
}

// throttleScript cuts the rate after a throttled answer and holds the bucket.
//
// KEYS[1] adapt hash {cut, at}; KEYS[2] bucket (TAT, µs)
// ARGV[1] min factor; ARGV[2] debounce µs; ARGV[3] recover step; ARGV[4] recover period µs
// ARGV[5] hold µs: no slot before now+hold (the vendor's Retry-After; 0 = none)
// ARGV[6] cut: factor multiplied in per throttled answer
// Returns the factor now in force, in permille.
var throttleScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local factor = 1.0
local cut = redis.call("HMGET", KEYS[1], "cut", "at")
local at = 0
if cut[1] then
  at = tonumber(cut[2])
  factor = tonumber(cut[1]) + math.floor((now - at) / tonumber(ARGV[4])) * tonumber(ARGV[3])
  if factor > 1 then factor = 1.0 end
end
if not cut[1] or now - at >= tonumber(ARGV[2]) then
  factor = factor * tonumber(ARGV[6])
  if factor < tonumber(ARGV[1]) then factor = tonumber(ARGV[1]) end
  redis.call("HSET", KEYS[1], "cut", tostring(factor), "at", string.format("%.0f", now))
  local steps = math.ceil((1 - factor) / tonumber(ARGV[3])) + 1
  redis.call("PEXPIRE", KEYS[1], math.floor(steps * tonumber(ARGV[4]) / 1000) + 1000)
end
local hold = tonumber(ARGV[5])
if hold > 0 then
  local tat = tonumber(redis.call("GET", KEYS[2]) or "0")
  if tat < now + hold then
    redis.call("SET", KEYS[2], string.format("%.0f", now + hold), "PX", math.floor(hold / 1000) + 1000)
  end
end
return math.floor(factor * 1000)
`)

// Throttled reports a throttled answer: the rate is cut (at most once per
// Debounce, however many in-flight calls were refused together) and, when
// the vendor said how long to stay away, no slot is handed out before then.
// It returns the factor now in force.
func (b *Bucket) Throttled(ctx context.Context, hold time.Duration) (float64, error) {
	t := b.tune
	res, err := throttleScript.Run(ctx, b.rdb, []string{b.keys[2], b.keys[0]},
		strconv.FormatFloat(t.MinFactor, 'f', -1, 64), t.Debounce.Microseconds(),
		strconv.FormatFloat(t.RecoverStep, 'f', -1, 64), t.RecoverEvery.Microseconds(), hold.Microseconds(),
		strconv.FormatFloat(t.Cut, 'f', -1, 64)).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	return float64(res) / 1000, nil
}

// Pause stops every call on the endpoint for d (quota exhausted). A longer
// pause already in force is kept.
func (b *Bucket) Pause(ctx context.Context, d time.Duration, reason string) error {
	cur, err := b.rdb.PTTL(ctx, b.keys[1]).Result()
	if err != nil {
		return fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	if cur >= d {
		return nil
	}
	if err := b.rdb.Set(ctx, b.keys[1], reason, d).Err(); err != nil {
		return fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	return nil
}

// Paused returns how long the endpoint stays paused (0 = not paused).
func (b *Bucket) Paused(ctx context.Context) (time.Duration, error) {
	d, err := b.rdb.PTTL(ctx, b.keys[1]).Result()
	if err != nil {
		return 0, fmt.Errorf("ratelimit %s: %w", b.endpoint, err)
	}
	if d < 0 {
		return 0, nil
	}
	return d, nil
}

// Rate returns the configured rate (calls/second).
func (b *Bucket) Rate() float64 { return b.rate }
