package redisconn

import (
	"fmt"
	"net/url"
	"strings"
)

// The URL is cut into its parts by hand, before any library sees it, so
// that no error ever quotes the password: net/url's errors quote the whole
// URL (`parse "redis://:p%zz@h": invalid URL escape "%zz"`), and go-redis
// passes them on. Errors here name the part that is wrong, never its text
// when that text may be secret.

// schemes is what Parse accepts, for error messages.
const schemes = "redis://, rediss://, redis-sentinel://, redis-cluster://"

// urlParts is scheme://[userinfo@]hosts[path][?query].
type urlParts struct {
	scheme   string
	userinfo string
	hasUser  bool
	hosts    string // the authority after userinfo: one host:port or a comma-separated list
	path     string
	query    string
}

// splitURL cuts raw into its parts. The authority ends at the first '/',
// '?' or '#', and the userinfo at the authority's last '@', as in net/url.
// So a password with an unencoded '/', '?' or '#' leaves its '@' further
// on; that URL is refused without quoting it, since a piece of the
// password would otherwise be read, and quoted, as a host, database or
// parameter.
func splitURL(raw string) (urlParts, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return urlParts{}, fmt.Errorf("%w: no scheme (want %s)", ErrBadURL, schemes)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	p := urlParts{scheme: scheme, hosts: rest[:end]}
	tail := rest[end:]
	if at := strings.LastIndex(p.hosts, "@"); at >= 0 {
		p.userinfo, p.hasUser, p.hosts = p.hosts[:at], true, p.hosts[at+1:]
	}
	if strings.Contains(tail, "@") {
		return urlParts{}, fmt.Errorf("%w: %s://: an '@' after the host list: percent-encode / ? # @ in a user name, password or parameter (%%2F %%3F %%23 %%40)", ErrBadURL, scheme)
	}
	if strings.Contains(tail, "#") {
		return urlParts{}, fmt.Errorf("%w: %s://: a '#' (a URL fragment): percent-encode it as %%23 in a password", ErrBadURL, scheme)
	}
	p.path, p.query, _ = strings.Cut(tail, "?")
	return p, nil
}

// credentials decodes user:password.
func (p urlParts) credentials() (user, pass string, err error) {
	if !p.hasUser {
		return "", "", nil
	}
	rawUser, rawPass, _ := strings.Cut(p.userinfo, ":")
	if user, err = url.PathUnescape(rawUser); err != nil {
		return "", "", p.badEscape("the user name")
	}
	if pass, err = url.PathUnescape(rawPass); err != nil {
		return "", "", p.badEscape("the password")
	}
	return user, pass, nil
}

func (p urlParts) badEscape(what string) error {
	return fmt.Errorf("%w: %s://: %s is not valid percent-encoding (write %% as %%25)", ErrBadURL, p.scheme, what)
}

// params decodes the query, refusing names not in allowed. An unknown name
// is quoted unless the query mentions a password: an unencoded '&' in
// sentinel_password makes its tail look like one more parameter.
func (p urlParts) params(allowed ...string) (url.Values, error) {
	vals := url.Values{}
	secret := strings.Contains(p.query, "password")
	for i, pair := range strings.Split(p.query, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, p.badEscape(fmt.Sprintf("the name of parameter %d", i+1))
		}
		if !contains(allowed, key) {
			known := "none"
			if len(allowed) > 0 {
				known = strings.Join(allowed, ", ")
			}
			if secret {
				return nil, fmt.Errorf("%w: %s://: parameter %d is unknown (known: %s; percent-encode & in a password as %%26)", ErrBadURL, p.scheme, i+1, known)
			}
			return nil, fmt.Errorf("%w: %s://: unknown parameter %q (known: %s)", ErrBadURL, p.scheme, key, known)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, p.badEscape("parameter " + key)
		}
		vals.Add(key, val)
	}
	return vals, nil
}

// withoutUserinfo is the URL with user:password@ left out, for libraries
// whose errors quote what they were given.
func (p urlParts) withoutUserinfo() string {
	s := p.scheme + "://" + p.hosts + p.path
	if p.query != "" {
		s += "?" + p.query
	}
	return s
}

// Redacted returns the URL with every password (the user's, and the value
// of any parameter whose name holds "password") replaced by "xxxxx", for
// logs and errors; a URL that cannot be cut into its parts comes out as
// "(unparsable redis url)".
func Redacted(raw string) string {
	p, err := splitURL(raw)
	if err != nil {
		return "(unparsable redis url)"
	}
	s := p.scheme + "://"
	if p.hasUser {
		user, _, hasPass := strings.Cut(p.userinfo, ":")
		if hasPass {
			user += ":xxxxx"
		}
		s += user + "@"
	}
	s += p.hosts + p.path
	if p.query == "" {
		return s
	}
	// After sentinel_password, a pair that is no sentinel parameter may be
	// the tail of a password with an unencoded '&': it is hidden too.
	afterSecret := false
	pairs := strings.Split(p.query, "&")
	for i, pair := range pairs {
		rawKey, _, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		switch {
		case err != nil, afterSecret && !contains(sentinelParams, key):
			pairs[i] = "xxxxx"
		case strings.Contains(strings.ToLower(key), "password"): // sentinel_password, and look-alikes Parse refuses
			pairs[i] = rawKey + "=xxxxx"
			afterSecret = true
		case strings.Contains(strings.ToLower(pair), "password"):
			// A password parameter inside another pair's value (a '?' or '='
			// where the URL has none to give: "?=?sentinel_password=…"):
			// the whole pair is hidden.
			pairs[i] = "xxxxx"
			afterSecret = true
		}
	}
	return s + "?" + strings.Join(pairs, "&")
}
