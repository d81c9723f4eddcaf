package dashboards

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed-login throttling, per client: loginBurst failures in a row are
// checked, then one more every loginEvery; meanwhile the client gets 429
// with Retry-After, its credentials not even compared (so a correct guess
// cannot be told from a wrong one while throttled). That is about 43,000
// guesses a day from one address instead of thousands a second.
//
// golang.org/x/time/rate is the token bucket (it is in the module graph
// already, through asynq's dependencies): its refill arithmetic is well
// tested, and TokensAt lets us look without spending.
const (
	loginBurst   = 5
	loginEvery   = 2 * time.Second
	loginClients = 10_000 // clients remembered; the least recently failed is forgotten first
)

// loginLimiter counts failed logins per client, in bounded memory.
type loginLimiter struct {
	mu      sync.Mutex
	clients map[string]*list.Element // of *loginClient
	lru     *list.List               // front = most recent failure
	max     int
	now     func() time.Time
}

type loginClient struct {
	key    string
	lim    *rate.Limiter
	warned bool // the throttling was logged since its last checked failure
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{clients: map[string]*list.Element{}, lru: list.New(), max: loginClients, now: time.Now}
}

// throttled reports how long key must wait before its next attempt is
// checked (0: go ahead), and whether this is the first refusal since its
// last checked failure (worth one log line; the rest would flood the log).
func (l *loginLimiter) throttled(key string) (wait time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el := l.clients[key]
	if el == nil {
		return 0, false
	}
	c := el.Value.(*loginClient)
	now := l.now()
	tokens := c.lim.TokensAt(now)
	if tokens >= loginBurst {
		// Fully recovered: nothing left to remember.
		l.lru.Remove(el)
		delete(l.clients, key)
		return 0, false
	}
	if tokens >= 1 {
		return 0, false
	}
	first, c.warned = !c.warned, true
	secs := (1 - tokens) * loginEvery.Seconds()
	return time.Duration(math.Ceil(secs)) * time.Second, first
}

// failed records a checked, failed login of key.
func (l *loginLimiter) failed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el := l.clients[key]
	if el == nil {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.clients, old.Value.(*loginClient).key)
		}
		el = l.lru.PushFront(&loginClient{key: key, lim: rate.NewLimiter(rate.Every(loginEvery), loginBurst)})
		l.clients[key] = el
	} else {
		l.lru.MoveToFront(el)
	}
	c := el.Value.(*loginClient)
	c.warned = false
	c.lim.AllowN(l.now(), 1)
}

// size is the number of clients remembered (for tests).
func (l *loginLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// clientKey is the client's IP address; an IPv6 client counts by its /64,
// which one machine usually owns whole (else each guess could come from a
// new address). Behind a reverse proxy every client shares the proxy's
// address: a guesser then slows everyone's logins, never lets more through.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
