package dashboards

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// The names asynqmon's UI uses: its bundle (ui/build/static/js/2.*.chunk.js
// in the asynqmon module) carries axios 0.21.2 with the defaults
// xsrfCookieName "XSRF-TOKEN" / xsrfHeaderName "X-XSRF-TOKEN", and its
// xhr adapter copies the cookie into the header when
// `config.withCredentials || isURLSameOrigin(fullPath)`: on every
// same-origin request, which all of asynqmon's API calls are.
const (
	csrfCookie = "XSRF-TOKEN"
	csrfHeader = "X-XSRF-TOKEN"
	csrfField  = "csrf" // the hidden field of the /dlq forms
)

// Token lifetime. A token older than csrfTTL is refused; the cookie is
// renewed on any asynqmon GET once it is older than csrfRenew, so an open
// asynqmon tab (which polls every few seconds) never holds a stale one.
// csrfSkew tolerates clocks of different worker processes a little apart.
const (
	csrfTTL   = 12 * time.Hour
	csrfRenew = csrfTTL / 2
	csrfSkew  = 5 * time.Minute
)

// MinCSRFSecretLen is the shortest CSRF secret accepted: the tokens are
// readable by the page (the cookie cannot be HttpOnly), and a short secret
// could be found from one token by trying candidates offline.
const MinCSRFSecretLen = 32

// ErrBadCSRFSecret: the configured CSRF secret is unusable.
var ErrBadCSRFSecret = errors.New("dashboard: bad CSRF secret")

// Token layout: issued-at (8 bytes, Unix seconds) | nonce (16) | HMAC-SHA256
// of the first 24 bytes (32), base64url. Any process holding the same
// secret verifies a token another one issued, so they survive a load
// balancer; nothing is stored.
const (
	tokenTimeLen  = 8
	tokenNonceLen = 16
	tokenMACLen   = sha256.Size
	tokenLen      = tokenTimeLen + tokenNonceLen + tokenMACLen
)

// tokenEncoding is strict so that one token has one spelling: the last
// character carries padding bits that a lax decoder would ignore.
var tokenEncoding = base64.RawURLEncoding.Strict()

// csrfTokens issues and verifies anti-CSRF tokens.
type csrfTokens struct {
	key []byte
	now func() time.Time
}

// newCSRFTokens keys the tokens from secret, or from a random per-process
// secret when secret is empty (fine for one process; several behind one
// balancer need the same secret). The key is derived, not the secret
// itself, so that the same secret reused elsewhere never signs our tokens.
// It is deliberately not derived from the dashboard credentials: the token
// is readable by scripts, and a password must not be guessable offline
// from it.
func newCSRFTokens(secret []byte) (*csrfTokens, error) {
	if len(secret) == 0 {
		secret = []byte(rand.Text() + rand.Text()) // 2 × 128 random bits
	}
	if err := CheckCSRFSecret(secret); err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vendorq dashboard csrf token v1"))
	return &csrfTokens{key: m.Sum(nil), now: time.Now}, nil
}

// CheckCSRFSecret refuses a secret shorter than MinCSRFSecretLen
// characters. The error never shows the secret.
func CheckCSRFSecret(secret []byte) error {
	if utf8.RuneCount(secret) < MinCSRFSecretLen {
		return fmt.Errorf("%w: it has fewer than %d characters (generate one with `openssl rand -hex 32`)", ErrBadCSRFSecret, MinCSRFSecretLen)
	}
	return nil
}

func (c *csrfTokens) mac(head []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(head)
	return m.Sum(nil)
}

// issue returns a fresh token (crypto/rand.Read never fails since Go 1.24).
func (c *csrfTokens) issue() string {
	b := make([]byte, tokenLen)
	binary.BigEndian.PutUint64(b, uint64(c.now().Unix())) // a time after 1970: no sign lost
	_, _ = rand.Read(b[tokenTimeLen : tokenTimeLen+tokenNonceLen])
	copy(b[tokenTimeLen+tokenNonceLen:], c.mac(b[:tokenTimeLen+tokenNonceLen]))
	return tokenEncoding.EncodeToString(b)
}

// age returns how old a valid token is; ok is false for a forged, mangled
// or expired one.
func (c *csrfTokens) age(tok string) (age time.Duration, ok bool) {
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(b) != tokenLen {
		return 0, false
	}
	head := b[:tokenTimeLen+tokenNonceLen]
	if !hmac.Equal(b[len(head):], c.mac(head)) {
		return 0, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0) // signed by us: fits
	age = c.now().Sub(issued)
	return age, age > -csrfSkew && age <= csrfTTL
}

func (c *csrfTokens) valid(tok string) bool {
	_, ok := c.age(tok)
	return ok
}

// csrfGuard refuses every state-changing request (any method but GET, HEAD
// and OPTIONS; whatever its Content-Type, so that a text/plain "simple"
// request a page on another site may send without a preflight is caught
// too) that
//   - a browser marks as cross-site, or whose Origin is not this Host
//     (net/http.CrossOriginProtection: Sec-Fetch-Site, then Origin), or
//   - lacks a valid token: the X-XSRF-TOKEN header (asynqmon: axios copies
//     the XSRF-TOKEN cookie, set here on asynqmon's pages, into it) or, on
//     vendorq's own pages, the csrf form field.
//
// A request with the valid bearer token needs no CSRF token: CSRF rides on
// what the browser adds by itself (cached basic auth, a loopback address),
// never on a bearer token, so scripts keep calling with the token alone.
type csrfGuard struct {
	tokens *csrfTokens
	cross  *http.CrossOriginProtection
	creds  Credentials
	log    zerolog.Logger
}

// csrfLogBurst bounds the refusals logged per minute: a hostile page can
// post in a loop, and the first few lines tell the operator enough.
const csrfLogBurst = 20

func newCSRFGuard(tokens *csrfTokens, creds Credentials, log zerolog.Logger) *csrfGuard {
	return &csrfGuard{
		tokens: tokens, cross: http.NewCrossOriginProtection(), creds: creds,
		log: log.Sample(&zerolog.BurstSampler{Burst: csrfLogBurst, Period: time.Minute}),
	}
}

func underMonitoring(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, MonitoringPath+"/")
}

func (g *csrfGuard) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			if underMonitoring(r) {
				g.renewCookie(w, r)
			}
			h.ServeHTTP(w, r)
			return
		}
		if err := g.cross.Check(r); err != nil {
			g.refuse(w, r, "cross-site", "403 forbidden: cross-site request refused (CSRF guard): use the dashboard's own pages")
			return
		}
		if g.creds.bearerOK(r) {
			h.ServeHTTP(w, r)
			return
		}
		if !g.tokens.valid(g.token(w, r)) {
			msg := "403 forbidden: stale or cross-site form; reload /dlq and try again"
			if underMonitoring(r) {
				msg = "403 forbidden: missing or stale " + csrfHeader + " header (asynqmon copies it from the " +
					csrfCookie + " cookie): reload the page; scripts may send the dashboard's bearer token instead"
			}
			g.refuse(w, r, "no valid token", msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// token is the header, else (on vendorq's own pages) the form field.
func (g *csrfGuard) token(w http.ResponseWriter, r *http.Request) string {
	if t := r.Header.Get(csrfHeader); t != "" || underMonitoring(r) {
		return t
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get(csrfField)
}

func (g *csrfGuard) refuse(w http.ResponseWriter, r *http.Request, why, msg string) {
	g.log.Warn().Str("client", clientKey(r)).Str("method", r.Method).Str("path", shorten(r.URL.Path, maxLoggedPath)).
		Str("reason", why).Msg("dashboard: state-changing request refused (CSRF guard)")
	http.Error(w, msg, http.StatusForbidden)
}

// renewCookie gives the page a token cookie when it has none still fresh.
// It is not HttpOnly (axios must read it) and goes only to asynqmon's
// pages (Path) of this site (SameSite=Strict).
func (g *csrfGuard) renewCookie(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(csrfCookie); err == nil {
		if age, ok := g.tokens.age(ck.Value); ok && age < csrfRenew {
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: g.tokens.issue(), Path: MonitoringPath, MaxAge: int(csrfTTL / time.Second),
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, HttpOnly: false,
	})
}
