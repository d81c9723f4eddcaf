package redisconn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/redistest"
)

func TestParseSingle(t *testing.T) {
	c, err := Parse("redis://user:s3cret@127.0.0.1:6380/4")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindSingle {
		t.Fatalf("kind %q", c.Kind)
	}
	want := asynq.RedisClientOpt{Addr: "127.0.0.1:6380", Username: "user", Password: "s3cret", DB: 4}
	if !reflect.DeepEqual(c.Asynq, want) {
		t.Fatalf("asynq opt %+v, want %+v", c.Asynq, want)
	}
	if got := c.Universal; !reflect.DeepEqual(got.Addrs, []string{"127.0.0.1:6380"}) || got.DB != 4 || got.Password != "s3cret" || got.MasterName != "" || got.IsClusterMode {
		t.Fatalf("universal %+v", got)
	}
	if _, ok := c.NewClient().(*redis.Client); !ok {
		t.Fatalf("NewClient is %T, want *redis.Client", c.NewClient())
	}
	tls, err := Parse("rediss://127.0.0.1:6380/0")
	if err != nil || tls.Asynq.(asynq.RedisClientOpt).TLSConfig == nil {
		t.Fatalf("rediss:// must set TLS: %+v %v", tls, err)
	}
}

func TestParseSentinel(t *testing.T) {
	c, err := Parse("redis-sentinel://:mpw@10.0.0.1:26379,10.0.0.2,[::1]:26380/3?master=mymaster&sentinel_password=spw&sentinel_username=su")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != KindSentinel {
		t.Fatalf("kind %q", c.Kind)
	}
	addrs := []string{"10.0.0.1:26379", "10.0.0.2:26379", "[::1]:26380"}
	want := asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: addrs, SentinelUsername: "su", SentinelPassword: "spw", Password: "mpw", DB: 3}
	if !reflect.DeepEqual(c.Asynq, want) {
		t.Fatalf("asynq opt %+v, want %+v", c.Asynq, want)
	}
	u := c.Universal
	if !reflect.DeepEqual(u.Addrs, addrs) || u.MasterName != "mymaster" || u.SentinelPassword != "spw" || u.Password != "mpw" || u.DB != 3 {
		t.Fatalf("universal %+v", u)
	}
	cl := c.NewClient()
	defer cl.Close()
	// A sentinel-backed failover client, not a cluster or a plain client.
	if _, ok := cl.(*redis.Client); !ok {
		t.Fatalf("NewClient is %T, want the failover *redis.Client", cl)
	}
}

func TestParseCluster(t *testing.T) {
	c, err := Parse("redis-cluster://:pw@127.0.0.1:7000,127.0.0.1:7001, 127.0.0.1:7002")
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}
	if c.Kind != KindCluster || !reflect.DeepEqual(c.Asynq, asynq.RedisClusterClientOpt{Addrs: addrs, Password: "pw"}) {
		t.Fatalf("%+v", c)
	}
	cl := c.NewClient()
	defer cl.Close()
	if _, ok := cl.(*redis.ClusterClient); !ok {
		t.Fatalf("NewClient is %T, want *redis.ClusterClient", cl)
	}
	// One seed is enough, and still a cluster client.
	one, err := Parse("redis-cluster://node-a")
	if err != nil || !reflect.DeepEqual(one.Universal.Addrs, []string{"node-a:6379"}) {
		t.Fatalf("%+v %v", one, err)
	}
	cl1 := one.NewClient()
	defer cl1.Close()
	if _, ok := cl1.(*redis.ClusterClient); !ok {
		t.Fatalf("single-seed NewClient is %T, want *redis.ClusterClient", cl1)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"127.0.0.1:6379", "no scheme"},
		{"http://x", "unsupported scheme"},
		{"redis-sentinel://h1:26379,h2:26379", "master=NAME"},
		{"redis-sentinel://?master=m", "at least one host"},
		{"redis-sentinel://h1/abc?master=m", `database "abc"`},
		{"redis-sentinel://h1?master=m&mastr=x", `unknown parameter "mastr"`},
		{"redis-cluster://", "at least one host"},
		{"redis-cluster://h1:7000,h2:notaport", `port "notaport"`},
		{"redis-cluster://h1:7000/2", "only database 0"},
		{"redis-cluster://::1:7000", "brackets"},
		{"redis-cluster://h1:7000?master=m", `unknown parameter "master"`},
		{"redis://:pw@h/0#frag", "'#'"},
		{"redis://:p/w@h/0", "'@' after the host list"},
		{"redis://:p%zz@h/0", "the password is not valid percent-encoding"},
		{"redis://u%zz:pw@h/0", "the user name is not valid percent-encoding"},
		{"redis://h:abc/0", `invalid port ":abc"`},
		{"redis://h/abc", `invalid database number: "abc"`},
		{"redis-sentinel://h1?master=m&sentinel_password=%zz", "parameter sentinel_password is not valid percent-encoding"},
		{"redis-sentinel://h1?master=m&sentinel_password=a&b", "parameter 3 is unknown"},
	} {
		_, err := Parse(tc.url)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want ErrBadURL mentioning %q", tc.url, err, tc.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:s3cret@h:6379/0":                                  "redis://user:xxxxx@h:6379/0",
		"redis://h:6379/0":                                              "redis://h:6379/0",
		"redis-cluster://:s3cret@h1:7000,[::1]:7001":                    "redis-cluster://:xxxxx@h1:7000,[::1]:7001",
		"redis-sentinel://:s3cret@h1,h2/1?master=m&sentinel_password=p": "redis-sentinel://:xxxxx@h1,h2/1?master=m&sentinel_password=xxxxx",
		"redis-sentinel://h1?sentinel_password=s3&cret&master=m":        "redis-sentinel://h1?sentinel_password=xxxxx&xxxxx&master=m",
		"redis://:s3/cret@h/0":                                          "(unparsable redis url)",
		"h:6379?sentinel_password=s3cret":                               "(unparsable redis url)",
	} {
		got := Redacted(in)
		if got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("Redacted(%q) leaks the password", in)
		}
	}
}

// A parsed single-server URL reaches a real server through both clients.
func TestSingleRoundTrip(t *testing.T) {
	srv := redistest.MustStart(t, redistest.Options{})
	c, err := Parse(srv.URL(5))
	if err != nil {
		t.Fatal(err)
	}
	rdb := c.NewClient()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(c.Asynq)
	defer client.Close()
	if _, err := client.EnqueueContext(ctx, asynq.NewTask("t", nil), asynq.Queue("q")); err != nil {
		t.Fatal(err)
	}
	// Both went to database 5 of the same server.
	direct := srv.Client(t, 5)
	if v, _ := direct.Get(ctx, "k").Result(); v != "v" {
		t.Fatalf("key not in db 5: %q", v)
	}
	if n, _ := direct.LLen(ctx, "asynq:{q}:pending").Result(); n != 1 {
		t.Fatalf("asynq task not in db 5: %d pending", n)
	}
}
