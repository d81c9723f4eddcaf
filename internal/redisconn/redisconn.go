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

// sentinelParams are the parameters of redis-sentinel://.
var sentinelParams = []string{"master", "sentinel_username", "sentinel_password"}

// Parse parses one of the accepted URL forms. Its errors wrap ErrBadURL and
// never hold a password (see urlparts.go).
func Parse(raw string) (Conn, error) {
	p, err := splitURL(raw)
	if err != nil {
		return Conn{}, err
	}
	user, pass, err := p.credentials()
	if err != nil {
		return Conn{}, err
	}
	switch p.scheme {
	case "redis", "rediss":
		return parseSingle(p, user, pass)
	case "redis-sentinel":
		m, err := parseMulti(p, "26379", sentinelParams...)
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
			Username: user, Password: pass, DB: m.db,
		}
		return Conn{Kind: KindSentinel, Asynq: a, Universal: redis.UniversalOptions{
			Addrs: m.addrs, MasterName: master, SentinelUsername: suser, SentinelPassword: spass,
			Username: user, Password: pass, DB: m.db,
		}}, nil
	case "redis-cluster":
		m, err := parseMulti(p, "6379")
		if err != nil {
			return Conn{}, err
		}
		if m.db != 0 {
			return Conn{}, fmt.Errorf("%w: redis-cluster:// has only database 0, got /%d", ErrBadURL, m.db)
		}
		a := asynq.RedisClusterClientOpt{Addrs: m.addrs, Username: user, Password: pass}
		return Conn{Kind: KindCluster, Asynq: a, Universal: redis.UniversalOptions{
			Addrs: m.addrs, Username: user, Password: pass, IsClusterMode: true,
		}}, nil
	default:
		return Conn{}, fmt.Errorf("%w: unsupported scheme %q (want %s)", ErrBadURL, p.scheme, schemes)
	}
}

// parseSingle leaves host, database and go-redis's own parameters
// (dial_timeout, …) to go-redis, handing it the URL without user:password
// so that its errors cannot quote them; net/url's errors lose their quoted
// URL as well.
func parseSingle(p urlParts, user, pass string) (Conn, error) {
	opt, err := redis.ParseURL(p.withoutUserinfo())
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return Conn{}, fmt.Errorf("%w: %s://: %w", ErrBadURL, p.scheme, ue.Err)
	}
	if err != nil {
		return Conn{}, fmt.Errorf("%w: %s://: %s", ErrBadURL, p.scheme, strings.TrimPrefix(err.Error(), "redis: "))
	}
	if _, err := hostPort(opt.Addr, "6379"); err != nil { // net/url takes any run of digits as a port
		return Conn{}, fmt.Errorf("%w: %s://: %w", ErrBadURL, p.scheme, err)
	}
	a := asynq.RedisClientOpt{Addr: opt.Addr, Username: user, Password: pass, DB: opt.DB, TLSConfig: opt.TLSConfig}
	return Conn{Kind: KindSingle, Asynq: a, Universal: redis.UniversalOptions{
		Addrs: []string{opt.Addr}, Username: user, Password: pass, DB: opt.DB, TLSConfig: opt.TLSConfig,
	}}, nil
}

// multi is a parsed multi-host URL.
type multi struct {
	addrs []string
	db    int
	query url.Values
}

// parseMulti parses the hosts, database and parameters of a multi-host
// URL by hand: net/url cannot, as soon as one host is an IPv6 literal.
func parseMulti(p urlParts, defaultPort string, allowed ...string) (multi, error) {
	var m multi
	for _, h := range strings.Split(p.hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return multi{}, fmt.Errorf("%w: %s://: host %q: %w", ErrBadURL, p.scheme, h, err)
		}
		m.addrs = append(m.addrs, addr)
	}
	if len(m.addrs) == 0 {
		return multi{}, fmt.Errorf("%w: %s:// needs at least one host:port", ErrBadURL, p.scheme)
	}
	var err error
	if m.db, err = dbFromPath(p.path); err != nil {
		return multi{}, err
	}
	m.query, err = p.params(allowed...)
	return m, err
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
