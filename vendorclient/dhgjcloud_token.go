package vendorclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/clock"
)

// The dhgjcloud token (docs/vendors.md, dhgjcloud). Every call to /oauth/token issues a new
// token and invalidates the current one, so there is exactly one token for
// all processes and it lives in Redis:
//
//   - TokenKey holds the token (JSON dhgjToken) with a PX a little shorter
//     than its life, so the key vanishing is what "expired" means;
//   - whoever finds no token takes TokenKey+":lock" (dhgjAcquire), asks the
//     vendor for one, and stores it while dropping the lock (dhgjCommit);
//   - everybody else polls until the token appears (or the lock holder's
//     failure does, or the lock expires because the holder died, and then a
//     poller takes over);
//   - after an HTTP 401 with token T, T is deleted only if it is still the
//     cached one (dhgjCompareDelete), so a 401 storm on T causes one refresh.
//
// There is no in-process copy: one GET per call is cheap next to the HTTP
// call, and it can never be older than the shared token.

const (
	dhgjPoll     = 25 * time.Millisecond // how often a waiting caller looks again
	dhgjFailHold = time.Second           // how long a token failure is shared with waiters
	dhgjRedisOp  = 5 * time.Second       // bounds Redis writes that must outlive the caller's ctx
	dhgjMaxLife  = 30 * 24 * time.Hour   // longer expires_in are cut (refreshing early is safe)
	dhgjFailPfx  = "fail:"               // lock value carrying a token failure
	dhgjTokenURL = "/oauth/token"        // relative to the base URL
	dhgjMaxToken = 4096                  // longest token or token_type accepted
	dhgjDefType  = "bearer"              // token_type when the answer has none
	dhgjCTForm   = "application/x-www-form-urlencoded"
)

// dhgjAcquire returns the cached token, or takes the lock when there is no
// token and no lock. Reading the token in the same script as taking the lock
// is the re-check a lock needs: the holder stores the token and deletes the
// lock in one script (dhgjCommit), so a caller that gets the lock knows that
// nobody stored a token meanwhile.
//
//	KEYS[1] token key, KEYS[2] lock key
//	ARGV[1] our lock value (random), ARGV[2] lock TTL in ms
//	returns {"token", value} | {"wait", lock value} | {"lock", ""}
var dhgjAcquire = redis.NewScript(`
local t = redis.call('GET', KEYS[1])
if t then return {'token', t} end
local l = redis.call('GET', KEYS[2])
if l then return {'wait', l} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'lock', ''}
`)

// dhgjCommit stores the token and releases the lock, only while we hold it.
// If the lock expired under us, another caller may be fetching a newer
// token, so ours is not stored (it is still used for the call at hand).
//
//	KEYS[1] token key, KEYS[2] lock key
//	ARGV[1] our lock value, ARGV[2] token record, ARGV[3] token TTL in ms
//	returns 1 when stored, 0 when the lock was not ours
var dhgjCommit = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`)

// dhgjFail replaces our lock by a failure record for a moment, so that the
// callers waiting on it (in every process) return the same error instead of
// each calling /oauth/token in turn (the vendor asks not to call it often).
//
//	KEYS[1] lock key
//	ARGV[1] our lock value, ARGV[2] failure record, ARGV[3] its TTL in ms
//	returns 1 when replaced, 0 when the lock was not ours
var dhgjFail = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// dhgjCompareDelete deletes a key only while it holds the value we read:
// it releases our lock, and after a 401 drops the token we used unless
// another caller has already replaced it.
//
//	KEYS[1] the key
//	ARGV[1] the expected value
//	returns 1 when deleted, 0 otherwise
var dhgjCompareDelete = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// dhgjToken is the shared token as cached in Redis.
type dhgjToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	ExpiresAt   time.Time `json:"expires_at"` // for people reading Redis; the key's PX is what expires it
	raw         string    // the cached value as read, for dhgjCompareDelete after a 401
}

// authorization is the Authorization header: token_type + " " + access_token.
func (t dhgjToken) authorization() string {
	typ := t.TokenType
	if typ == "" {
		typ = dhgjDefType
	}
	return typ + " " + t.AccessToken
}

// dhgjFailure is a token failure shared with waiting callers (no secrets:
// it carries our own classification, never the vendor's body).
type dhgjFailure struct {
	Class   Class         `json:"class"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Delay   time.Duration `json:"delay"`
}

// token returns the shared token, fetching it when there is none.
func (c *Dhgjcloud) token(ctx context.Context) (dhgjToken, error) {
	raw, err := c.rdb.Get(ctx, c.tokenKey).Result()
	if err == nil {
		if t, ok := dhgjParseCached(raw); ok {
			return t, nil
		}
	} else if !errors.Is(err, redis.Nil) {
		return dhgjToken{}, c.redisError(ctx, err)
	}
	for {
		lockVal, err := dhgjRandom()
		if err != nil {
			return dhgjToken{}, &Error{Vendor: VendorDhgjcloud, Class: ClassTransient, Code: "rand", Message: "no random lock value", Err: err}
		}
		res, err := dhgjAcquire.Run(ctx, c.rdb, []string{c.tokenKey, c.lockKey}, lockVal, c.lockTTL.Milliseconds()).StringSlice()
		if err != nil || len(res) != 2 {
			return dhgjToken{}, c.redisError(ctx, err)
		}
		switch res[0] {
		case "lock":
			return c.fetchAndShare(ctx, lockVal)
		case "token":
			if t, ok := dhgjParseCached(res[1]); ok {
				return t, nil
			}
			// Not a record this code wrote: drop exactly it, then look again.
			if err := c.compareDelete(ctx, c.tokenKey, res[1]); err != nil {
				return dhgjToken{}, err
			}
		default: // "wait": someone else is fetching the token, or just failed to
			if f, ok := strings.CutPrefix(res[1], dhgjFailPfx); ok {
				var fl dhgjFailure
				if json.Unmarshal([]byte(f), &fl) == nil && fl.Class > ClassOK && fl.Class <= ClassPermanent && fl.Code != "" {
					return dhgjToken{}, &Error{Vendor: VendorDhgjcloud, Class: fl.Class, Code: fl.Code,
						Message: fl.Message + " (token request failed moments ago)", Delay: fl.Delay}
				}
			}
		}
		if err := clock.Sleep(ctx, dhgjPoll); err != nil {
			return dhgjToken{}, &Error{Vendor: VendorDhgjcloud, Class: ClassTransient, Code: dhgjCtxCode(err), Message: "gave up waiting for the shared token", Err: err}
		}
	}
}

// fetchAndShare asks the vendor for a token while holding the lock
// (lockVal) and shares the outcome through Redis.
func (c *Dhgjcloud) fetchAndShare(ctx context.Context, lockVal string) (dhgjToken, error) {
	started := time.Now()
	ans, err := c.requestToken(ctx)
	// Once the vendor has issued a token the previous one is dead, so the
	// Redis writes happen even if the caller's ctx ended meanwhile.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dhgjRedisOp)
	defer cancel()
	if err != nil {
		if ctx.Err() != nil {
			// Our caller gave up; that says nothing about the vendor: let a waiter take over now.
			_ = c.compareDelete(wctx, c.lockKey, lockVal)
			return dhgjToken{}, err
		}
		c.shareFailure(wctx, lockVal, err)
		return dhgjToken{}, err
	}
	t := dhgjToken{AccessToken: ans.AccessToken, TokenType: ans.TokenType, ExpiresAt: started.Add(ans.Life)}
	rec, _ := json.Marshal(t) // cannot fail: strings and a time
	t.raw = string(rec)
	ttl := dhgjCacheTTL(ans.Life) - time.Since(started)
	if ttl < time.Millisecond {
		// Too short-lived to share: use it once, let the next caller fetch.
		t.raw = ""
		_ = c.compareDelete(wctx, c.lockKey, lockVal)
		return t, nil
	}
	if stored, err := dhgjCommit.Run(wctx, c.rdb, []string{c.tokenKey, c.lockKey}, lockVal, t.raw, ttl.Milliseconds()).Int(); err != nil || stored != 1 {
		t.raw = "" // not the shared token: a 401 on it must not delete anything
	}
	return t, nil
}

// shareFailure turns our lock into a short-lived failure record (see dhgjFail).
func (c *Dhgjcloud) shareFailure(ctx context.Context, lockVal string, err error) {
	e := AsError(err)
	if e == nil {
		_ = c.compareDelete(ctx, c.lockKey, lockVal)
		return
	}
	hold := min(max(dhgjFailHold, e.Delay), c.lockTTL)
	rec, _ := json.Marshal(dhgjFailure{Class: e.Class, Code: e.Code, Message: e.Message, Delay: e.Delay})
	_ = dhgjFail.Run(ctx, c.rdb, []string{c.lockKey}, lockVal, dhgjFailPfx+string(rec), hold.Milliseconds()).Err()
}

// invalidate drops tok from the shared cache if it is still the cached one.
func (c *Dhgjcloud) invalidate(ctx context.Context, tok dhgjToken) error {
	if tok.raw == "" {
		return nil
	}
	return c.compareDelete(ctx, c.tokenKey, tok.raw)
}

func (c *Dhgjcloud) compareDelete(ctx context.Context, key, val string) error {
	if err := dhgjCompareDelete.Run(ctx, c.rdb, []string{key}, val).Err(); err != nil {
		return c.redisError(ctx, err)
	}
	return nil
}

// redisError classifies a failure of the shared token cache (transient).
func (c *Dhgjcloud) redisError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &Error{Vendor: VendorDhgjcloud, Class: ClassTransient, Code: dhgjCtxCode(ctx.Err()), Message: "no shared token", Err: ctx.Err()}
	}
	if err == nil {
		err = errors.New("unexpected script reply")
	}
	return &Error{Vendor: VendorDhgjcloud, Class: ClassTransient, Code: "redis", Message: "shared token cache unavailable", Err: err}
}

// requestToken calls POST {base}/oauth/token once. The client secret goes
// in the form body, so an endpoint echoing the body (a 400 quoting the
// request) would echo it: the transport scrubs it, percent-encoded too.
func (c *Dhgjcloud) requestToken(ctx context.Context) (dhgjTokenAnswer, error) {
	form := url.Values{
		"client_id":     {c.clientID},
		"client_secret": {c.clientSecret},
		"grant_type":    {"client_credentials"},
		"scope":         {c.scope},
	}
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + dhgjTokenURL
	c.tokenRequests.Add(1)
	return exchange(ctx, c.tr, request{
		url: u.String(),
		header: http.Header{
			"Content-Type": {dhgjCTForm},
			"User-Agent":   {""}, // present but empty: net/http then sends no User-Agent
		},
		body: []byte(form.Encode()),
	}, decodeDhgjToken)
}

// dhgjTokenAnswer is a decoded token answer.
type dhgjTokenAnswer struct {
	AccessToken string
	TokenType   string
	Life        time.Duration // expires_in (cut to dhgjMaxLife)
}

// decodeDhgjToken classifies a token answer (pure, fuzzed). Non-2xx:
// 400/401 (bad client or request) and other 4xx are permanent
// "token_http_NNN", 429 throttled, 408/5xx transient. 2xx without a usable
// access_token or a positive expires_in is malformed (transient).
// No error ever quotes the body: it holds the token.
func decodeDhgjToken(status int, h http.Header, body []byte) (dhgjTokenAnswer, error) {
	if status < 200 || status > 299 {
		return dhgjTokenAnswer{}, dhgjStatusError(status, h, body, "token_http_")
	}
	var a struct {
		AccessToken json.RawMessage `json:"access_token"`
		TokenType   json.RawMessage `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return dhgjTokenAnswer{}, malformed(VendorDhgjcloud, status, "token answer is not a JSON object")
	}
	tok := jsonString(a.AccessToken)
	if !dhgjVisible(tok) {
		return dhgjTokenAnswer{}, malformed(VendorDhgjcloud, status, "token answer has no usable access_token")
	}
	typ := jsonString(a.TokenType)
	if typ == "" {
		typ = dhgjDefType
	} else if !dhgjVisible(typ) {
		return dhgjTokenAnswer{}, malformed(VendorDhgjcloud, status, "token answer has an unusable token_type")
	}
	secs, ok := jsonInt(a.ExpiresIn)
	if !ok || secs <= 0 {
		return dhgjTokenAnswer{}, malformed(VendorDhgjcloud, status, "token answer has no positive expires_in")
	}
	life := dhgjMaxLife
	if secs < int(dhgjMaxLife/time.Second) {
		life = time.Duration(secs) * time.Second
	}
	return dhgjTokenAnswer{AccessToken: tok, TokenType: typ, Life: life}, nil
}

// dhgjVisible reports whether s can go into the Authorization header as
// one word: 1..dhgjMaxToken visible ASCII characters, no spaces.
func dhgjVisible(s string) bool {
	if s == "" || len(s) > dhgjMaxToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// dhgjCacheTTL is how long a token of the given life stays in the shared
// cache: the life minus a safety margin for transit and clock drift of 1%
// of the life, at least 200 ms and at most 60 s, and never more than a tenth
// of it (a bigger margin on a short life refreshes, and so invalidates the
// token every process holds, more often than the vendor requires).
func dhgjCacheTTL(life time.Duration) time.Duration {
	return life - min(max(life/100, 200*time.Millisecond), time.Minute, life/10)
}

// dhgjParseCached decodes a cached token record.
func dhgjParseCached(raw string) (dhgjToken, bool) {
	var t dhgjToken
	if json.Unmarshal([]byte(raw), &t) != nil || !dhgjVisible(t.AccessToken) || (t.TokenType != "" && !dhgjVisible(t.TokenType)) {
		return dhgjToken{}, false
	}
	t.raw = raw
	return t, true
}

func dhgjRandom() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func dhgjCtxCode(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "canceled"
}
