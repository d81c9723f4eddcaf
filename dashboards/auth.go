package dashboards

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ErrInsecureBind: the dashboard would listen beyond loopback without credentials.
var ErrInsecureBind = errors.New("dashboard: non-loopback address without credentials")

// ErrBadCredentials: a credential setting has the wrong form.
var ErrBadCredentials = errors.New("dashboard: bad credentials setting")

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
// setting and a bearer token; either may be empty. The error never repeats
// the values it was given.
func ParseCredentials(basic, token string) (Credentials, error) {
	var c Credentials
	if basic != "" {
		u, p, ok := strings.Cut(basic, ":")
		if !ok || u == "" || p == "" {
			return c, fmt.Errorf("%w: basic auth must be USER:PASSWORD with both parts non-empty", ErrBadCredentials)
		}
		c.User, c.Password = u, p
	}
	if token != "" {
		if strings.ContainsAny(token, " \t\r\n") {
			return c, fmt.Errorf("%w: the bearer token must not contain spaces", ErrBadCredentials)
		}
		c.Token = token
	}
	return c, nil
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

// allowed reports whether r carries valid credentials.
func (c Credentials) allowed(r *http.Request) bool {
	if !c.Configured() {
		return true
	}
	if c.Token != "" {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			if equal(strings.TrimSpace(h[7:]), c.Token) {
				return true
			}
		}
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

// requireAuth wraps h so that requests without valid credentials get 401.
func (c Credentials) requireAuth(h http.Handler) http.Handler {
	if !c.Configured() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.allowed(r) {
			if c.User != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="vendorq dashboard", charset="UTF-8"`)
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="vendorq dashboard"`)
			}
			http.Error(w, "401 unauthorized: this dashboard needs credentials", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
