// Package redisconn turns the configured Redis URL into both the asynq
// connection option and a go-redis client for vendorq's own keys, so that
// everything the project stores lives in the same Redis deployment.
//
// Accepted forms:
//
//	redis://[user:pass@]host:port[/db]          one server
//	rediss://...                                 one server over TLS
//	redis-sentinel://[:pass@]h1:p1,h2:p2[/db]?master=NAME   Sentinel
//	redis-cluster://[:pass@]h1:p1,h2:p2,h3:p3    Redis Cluster
package redisconn

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrBadURL is wrapped by every parse error.
var ErrBadURL = errors.New("redis url")

// Conn is a parsed Redis location.
type Conn struct {
	Kind      string // "single", "sentinel", "cluster"
	Asynq     asynq.RedisConnOpt
	Universal redis.UniversalOptions
}

// Parse parses one of the accepted URL forms.
func Parse(raw string) (Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Conn{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return Conn{}, fmt.Errorf("%w: %v", ErrBadURL, err)
		}
		a := asynq.RedisClientOpt{Addr: opt.Addr, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig}
		return Conn{Kind: "single", Asynq: a, Universal: redis.UniversalOptions{
			Addrs: []string{opt.Addr}, Username: opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
		}}, nil
	case "redis-sentinel":
		addrs := splitHosts(u.Host)
		master := u.Query().Get("master")
		if master == "" {
			return Conn{}, fmt.Errorf("%w: redis-sentinel:// needs ?master=NAME", ErrBadURL)
		}
		db, err := dbFromPath(u.Path)
		if err != nil {
			return Conn{}, err
		}
		pass, _ := u.User.Password()
		spass := u.Query().Get("sentinel_password")
		a := asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: addrs, SentinelPassword: spass, Password: pass, DB: db}
		return Conn{Kind: "sentinel", Asynq: a, Universal: redis.UniversalOptions{
			Addrs: addrs, MasterName: master, SentinelPassword: spass, Password: pass, DB: db,
		}}, nil
	case "redis-cluster":
		addrs := splitHosts(u.Host)
		pass, _ := u.User.Password()
		a := asynq.RedisClusterClientOpt{Addrs: addrs, Password: pass}
		return Conn{Kind: "cluster", Asynq: a, Universal: redis.UniversalOptions{Addrs: addrs, Password: pass, IsClusterMode: true}}, nil
	default:
		return Conn{}, fmt.Errorf("%w: unsupported scheme %q (want redis://, rediss://, redis-sentinel://, redis-cluster://)", ErrBadURL, u.Scheme)
	}
}

func splitHosts(h string) []string {
	var out []string
	for _, a := range strings.Split(h, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
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
// short so that a dead Redis is noticed quickly; go-redis reconnects by itself.
func (c Conn) NewClient() redis.UniversalClient {
	o := c.Universal
	o.DialTimeout = 3 * time.Second
	o.ReadTimeout = 3 * time.Second
	o.WriteTimeout = 3 * time.Second
	return redis.NewUniversalClient(&o)
}

// Redacted returns the URL with any password replaced by "xxx", for logs.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable redis url)"
	}
	return u.Redacted()
}
