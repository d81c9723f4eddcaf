// Package redisconn turns the configured Redis URL into both the asynq
// connection option and a go-redis client for vendorq's own keys, so that
// everything the project stores lives in the same Redis deployment.
//
// Accepted forms:
//
//	redis://[user:pass@]host:port[/db]          one server
//	rediss://...                                 one server over TLS
//	redis-sentinel://[user:pass@]h1:p1,h2:p2[/db]?master=NAME[&sentinel_username=U][&sentinel_password=P]
//	                                             Sentinel: the hosts are the sentinels; user:pass is the master's
//	redis-cluster://[user:pass@]h1:p1,h2:p2,h3:p3  Redis Cluster: any subset of the nodes (seeds)
//
// Host lists are split on commas; IPv6 hosts go in brackets ([::1]:7000).
// A host without a port gets the form's default (26379 for sentinels,
// 6379 for cluster nodes). A cluster has only database 0.
package redisconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrBadURL is wrapped by every parse error.
var ErrBadURL = errors.New("redis url")

// Kinds of deployment.
const (
	KindSingle   = "single"
	KindSentinel = "sentinel"
	KindCluster  = "cluster"
)

// Conn is a parsed Redis location.
type Conn struct {
	Kind      string // KindSingle, KindSentinel, KindCluster
	Asynq     asynq.RedisConnOpt
	Universal redis.UniversalOptions
}

// Parse parses one of the accepted URL forms.
func Parse(raw string) (Conn, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return Conn{}, fmt.Errorf("%w: %q has no scheme (want redis://, rediss://, redis-sentinel://, redis-cluster://)", ErrBadURL, Redacted(raw))
	}
	switch scheme {
	case "redis", "rediss":
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return Conn{}, fmt.Errorf("%w: %w", ErrBadURL, err)
		}
		a := asynq.RedisClientOpt{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig}
		return Conn{Kind: KindSingle, Asynq: a, Universal: redis.UniversalOptions{
			Addrs: []string{opt.Addr}, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
		}}, nil
	case "redis-sentinel":
		m, err := parseMulti(raw, "26379", "master", "sentinel_username", "sentinel_password")
		if err != nil {
			return Conn{}, err
		}
		master := m.query.Get("master")
		if master == "" {
			return Conn{}, fmt.Errorf("%w: redis-sentinel:// needs ?master=NAME (the name the sentinels monitor)", ErrBadURL)
		}
		suser, spass := m.query.Get("sentinel_username"), m.query.Get("sentinel_password")
		a := asynq.RedisFailoverClientOpt{
			MasterName: master, SentinelAddrs: m.addrs, SentinelUsername: suser, SentinelPassword: spass,
			Username: m.user, Password: m.pass, DB: m.db,
		}
		return Conn{Kind: KindSentinel, Asynq: a, Universal: redis.UniversalOptions{
			Addrs: m.addrs, MasterName: master, SentinelUsername: suser, SentinelPassword: spass,
			Username: m.user, Password: m.pass, DB: m.db,
		}}, nil
	case "redis-cluster":
		m, err := parseMulti(raw, "6379")
		if err != nil {
			return Conn{}, err
		}
		if m.db != 0 {
			return Conn{}, fmt.Errorf("%w: redis-cluster:// has only database 0, got /%d", ErrBadURL, m.db)
		}
		a := asynq.RedisClusterClientOpt{Addrs: m.addrs, Username: m.user, Password: m.pass}
		return Conn{Kind: KindCluster, Asynq: a, Universal: redis.UniversalOptions{
			Addrs: m.addrs, Username: m.user, Password: m.pass, IsClusterMode: true,
		}}, nil
	default:
		return Conn{}, fmt.Errorf("%w: unsupported scheme %q (want redis://, rediss://, redis-sentinel://, redis-cluster://)", ErrBadURL, scheme)
	}
}

// multi is a parsed multi-host URL.
type multi struct {
	addrs      []string
	user, pass string
	db         int
	query      url.Values
}

// parseMulti parses scheme://[user:pass@]h1,h2[/db][?query] by hand:
// net/url cannot, as soon as one host is an IPv6 literal.
func parseMulti(raw, defaultPort string, allowed ...string) (multi, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	var m multi
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		ui, err := url.Parse("x://" + authority[:at] + "@h")
		if err != nil || ui.User == nil {
			return multi{}, fmt.Errorf("%w: %s://: malformed user:password (percent-encode special characters)", ErrBadURL, scheme)
		}
		m.user = ui.User.Username()
		m.pass, _ = ui.User.Password()
		authority = authority[at+1:]
	}
	for _, h := range strings.Split(authority, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return multi{}, fmt.Errorf("%w: %s://: host %q: %w", ErrBadURL, scheme, h, err)
		}
		m.addrs = append(m.addrs, addr)
	}
	if len(m.addrs) == 0 {
		return multi{}, fmt.Errorf("%w: %s:// needs at least one host:port", ErrBadURL, scheme)
	}
	pq, err := url.Parse("x://h" + tail)
	if err != nil {
		return multi{}, fmt.Errorf("%w: %s://: %w", ErrBadURL, scheme, err)
	}
	if m.db, err = dbFromPath(pq.Path); err != nil {
		return multi{}, err
	}
	m.query = pq.Query()
	for k := range m.query {
		if !contains(allowed, k) {
			want := "none"
			if len(allowed) > 0 {
				want = strings.Join(allowed, ", ")
			}
			return multi{}, fmt.Errorf("%w: %s://: unknown parameter %q (known: %s)", ErrBadURL, scheme, k, want)
		}
	}
	return m, nil
}

func hostPort(h, defaultPort string) (string, error) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare name, an IPv4 address or a bracketed IPv6 literal.
		bare := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if strings.Contains(bare, ":") && !strings.HasPrefix(h, "[") {
			return "", errors.New("IPv6 addresses go in brackets: [::1]:6379")
		}
		host, port = bare, defaultPort
	}
	if host == "" {
		return "", errors.New("empty host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number between 1 and 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func dbFromPath(p string) (int, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: database %q is not a number", ErrBadURL, p)
	}
	return n, nil
}

// NewClient returns a go-redis client for vendorq's own keys. Timeouts are
// short so that a dead Redis is noticed quickly; go-redis reconnects by
// itself, follows cluster redirections and asks the sentinels for the new
// master after a failover.
func (c Conn) NewClient() redis.UniversalClient {
	o := c.Universal
	o.DialTimeout = 3 * time.Second
	o.ReadTimeout = 3 * time.Second
	o.WriteTimeout = 3 * time.Second
	return redis.NewUniversalClient(&o)
}

// Redacted returns the URL with every password (the user's and
// sentinel_password) replaced by "xxxxx", for logs and errors.
func Redacted(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.ContainsAny(raw, "@") {
			return "(unparsable redis url)"
		}
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		ui := authority[:at]
		if user, _, hasPass := strings.Cut(ui, ":"); hasPass {
			ui = user + ":xxxxx"
		}
		authority = ui + authority[at:]
	}
	if q := strings.Index(tail, "?"); q >= 0 {
		path, query := tail[:q], tail[q+1:]
		frag := ""
		if h := strings.Index(query, "#"); h >= 0 {
			query, frag = query[:h], query[h:]
		}
		vals, err := url.ParseQuery(query)
		if err != nil {
			return "(unparsable redis url)"
		}
		if _, ok := vals["sentinel_password"]; ok {
			vals.Set("sentinel_password", "xxxxx")
		}
		tail = path + "?" + vals.Encode() + frag
	}
	return scheme + "://" + authority + tail
}
