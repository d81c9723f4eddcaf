package dashboards

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// ErrInsecureBind: the dashboard would listen beyond loopback without credentials.
var ErrInsecureBind = errors.New("dashboard: non-loopback address without credentials")

// ErrBadCredentials: a credential setting has the wrong form.
var ErrBadCredentials = errors.New("dashboard: bad credentials setting")

// MinSecretLen is the fewest characters of a dashboard password or bearer
// token: the HTTP API's minimum (internal/api.MinTokenLen), so that no
// secret of the worker is easier to guess than another.
const MinSecretLen = 16

// The flags that carry the credentials, named by the errors.
const (
	FlagBasicAuth = "--dashboard-basic-auth"
	FlagToken     = "--dashboard-token"
)

// Credentials protect the dashboard. Zero value = open (loopback only).
// Either basic auth or the bearer token is accepted when both are set:
// browsers use basic auth, Prometheus and scripts the token.
type Credentials struct {
	User     string
	Password string
	Token    string
}

// Configured reports whether any credential is set.
func (c Credentials) Configured() bool { return c.User != "" || c.Token != "" }

// String never shows a secret (it is what %v prints, e.g. in a log).
func (c Credentials) String() string {
	var parts []string
	if c.User != "" {
		parts = append(parts, "basic auth for "+c.User)
	}
	if c.Token != "" {
		parts = append(parts, "bearer token")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// ParseCredentials builds Credentials from a USER:PASSWORD basic-auth
// setting and a bearer token; either may be empty. The error names the
// flag and never repeats the values it was given.
func ParseCredentials(basic, token string) (Credentials, error) {
	var c Credentials
	if basic != "" {
		u, p, ok := strings.Cut(basic, ":")
		if !ok || u == "" || p == "" {
			return c, fmt.Errorf("%w: %s must be USER:PASSWORD with both parts non-empty", ErrBadCredentials, FlagBasicAuth)
		}
		c.User, c.Password = u, p
	}
	c.Token = token
	return c, c.check()
}

// check refuses short or malformed secrets (Options.Credentials is
// checked too, so no caller can skip it).
func (c Credentials) check() error {
	if c.User != "" && utf8.RuneCountInString(c.Password) < MinSecretLen {
		return fmt.Errorf("%w: the %s password has fewer than %d characters", ErrBadCredentials, FlagBasicAuth, MinSecretLen)
	}
	if c.Token == "" {
		return nil
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return fmt.Errorf("%w: the %s value must not contain spaces", ErrBadCredentials, FlagToken)
	}
	if utf8.RuneCountInString(c.Token) < MinSecretLen {
		return fmt.Errorf("%w: the %s value has fewer than %d characters", ErrBadCredentials, FlagToken, MinSecretLen)
	}
	return nil
}

// IsLoopback reports whether addr (HOST:PORT) binds only to loopback:
// "localhost" or a loopback IP. An empty host (":8080") means every
// interface and is not loopback.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("dashboard address %q: want HOST:PORT such as 127.0.0.1:8080: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback(), nil
}

// CheckBind refuses to serve the dashboard beyond loopback without
// credentials: anyone on the network could otherwise read payloads and
// replay or delete tasks.
func CheckBind(addr string, c Credentials) error {
	lo, err := IsLoopback(addr)
	if err != nil {
		return err
	}
	if !lo && !c.Configured() {
		return fmt.Errorf("%w: --dashboard %s is reachable from other machines; set --dashboard-basic-auth USER:PASSWORD "+
			"or --dashboard-token TOKEN (or $VENDORQ_DASHBOARD_BASIC_AUTH / $VENDORQ_DASHBOARD_TOKEN), or bind to 127.0.0.1",
			ErrInsecureBind, addr)
	}
	return nil
}

// equal compares secrets in constant time; hashing first makes the time
// independent of the lengths as well.
func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// bearerOK reports whether r carries the configured bearer token.
func (c Credentials) bearerOK(r *http.Request) bool {
	if c.Token == "" {
		return false
	}
	h := r.Header.Get("Authorization")
	return len(h) > 7 && strings.EqualFold(h[:7], "bearer ") && equal(strings.TrimSpace(h[7:]), c.Token)
}

// allowed reports whether r carries valid credentials.
func (c Credentials) allowed(r *http.Request) bool {
	if !c.Configured() || c.bearerOK(r) {
		return true
	}
	if c.User != "" {
		if u, p, ok := r.BasicAuth(); ok {
			// Both compared every time: no early exit tells which part was wrong.
			uok, pok := equal(u, c.User), equal(p, c.Password)
			return uok && pok
		}
	}
	return false
}

// What a failed-login log line may show of the request.
const (
	maxLoggedPath = 200
	maxLoggedUser = 64
)

// authGuard asks for the credentials, throttles clients that keep failing
// (loginlimit.go) and logs each checked failure: the client, the path and
// the user name tried, never the password or token tried.
type authGuard struct {
	creds Credentials
	lim   *loginLimiter
	log   zerolog.Logger
}

func (g *authGuard) wrap(h http.Handler) http.Handler {
	if !g.creds.Configured() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientKey(r)
		if wait, first := g.lim.throttled(client); wait > 0 {
			if first {
				g.log.Warn().Str("client", client).Str("retry_after", wait.String()).
					Msg("dashboard: login attempts throttled: too many failures from this client; its next attempts are refused unchecked")
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			http.Error(w, "429 too many failed logins: try again later", http.StatusTooManyRequests)
			return
		}
		if g.creds.allowed(r) {
			h.ServeHTTP(w, r)
			return
		}
		// A first visit without credentials is no guess: the browser
		// has not asked the user yet.
		if scheme, user := triedCredentials(r); scheme != "" {
			g.lim.failed(client)
			ev := g.log.Warn().Str("client", client).Str("path", shorten(r.URL.Path, maxLoggedPath)).Str("scheme", scheme)
			if user != "" {
				ev = ev.Str("user", shorten(user, maxLoggedUser))
			}
			ev.Msg("dashboard: failed login")
		}
		if g.creds.User != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="vendorq dashboard", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vendorq dashboard"`)
		}
		http.Error(w, "401 unauthorized: this dashboard needs credentials", http.StatusUnauthorized)
	})
}

// triedCredentials names the scheme of the Authorization header ("" when
// there is none) and, for basic auth, the user name; never the secret.
func triedCredentials(r *http.Request) (scheme, user string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ""
	}
	if u, _, ok := r.BasicAuth(); ok {
		return "basic", u
	}
	scheme, _, _ = strings.Cut(h, " ")
	return shorten(strings.ToLower(scheme), 16), ""
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
