// Package clustertest starts throwaway Redis Cluster and Sentinel
// deployments on loopback for tests: real redis-server processes in
// temporary directories on free ports, created with the same tools an
// operator uses (redis-cli --cluster create; sentinel monitor), and waited
// for with bounded polling. Nothing here touches a Redis it did not start.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/redistest"
)

// Node is one redis-server (data node or sentinel) process.
type Node struct {
	Addr string
	Port int
	Dir  string

	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// start launches redis-server with args and waits (bounded) for PING.
func (n *Node) start(ctx context.Context) error {
	// Not tied to ctx: the process outlives the start-up wait; Kill ends it.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), "redis-server", n.args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clustertest: start redis-server on %s: %w", n.Addr, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	err := poll(ctx, 20*time.Millisecond, func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("exited at start; log:\n%s", n.Log())
		default:
		}
		return c.Ping(ctx).Err() == nil, nil
	})
	if err != nil {
		n.Kill()
		return fmt.Errorf("clustertest: redis-server on %s: %w", n.Addr, err)
	}
	return nil
}

// Kill sends SIGKILL (a crash: no shutdown save, no goodbye to replicas)
// and waits for the process to be gone.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// Log returns the node's log file (for failure messages).
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "redis.log"))
	return string(b)
}

// newNode prepares (does not start) a node with its own directory under
// base. base must outlive the process: callers create it with tb.TempDir
// before registering the cleanup that kills the nodes, so that the kill
// runs first (cleanups run last-in first-out).
func newNode(tb testing.TB, base string, port int, extra ...string) *Node {
	tb.Helper()
	dir, err := os.MkdirTemp(base, strconv.Itoa(port)+"-")
	if err != nil {
		tb.Fatal(err)
	}
	n := &Node{Port: port, Dir: dir, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	n.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--logfile", filepath.Join(dir, "redis.log"),
	}, extra...)
	return n
}

func requireRedis(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("clustertest: %s not on PATH (apt-get install -y redis-server)", bin)
		}
	}
}

// poll calls f every interval until it reports done, returns an error, or
// ctx ends.
func poll(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	for {
		done, err := f()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Poll is poll for tests: it fails tb with what when f is not done within d.
func Poll(tb testing.TB, d time.Duration, what string, f func() (bool, error)) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := poll(ctx, 50*time.Millisecond, f); err != nil {
		tb.Fatalf("%s (within %v): %v", what, d, err)
	}
}

// clusterPort returns a free port P whose cluster bus port P+10000 is free too.
func clusterPort(taken map[int]bool) (int, error) {
	for range 200 {
		p, err := redistest.FreePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 || taken[p] || taken[p+10000] {
			continue
		}
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		_ = ln.Close()
		taken[p], taken[p+10000] = true, true
		return p, nil
	}
	return 0, errors.New("clustertest: no free port pair (P, P+10000) found")
}

// Cluster is a running Redis Cluster of masters (no replicas).
type Cluster struct {
	Nodes []*Node
}

// Addrs returns the nodes' host:port.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a[i] = n.Addr
	}
	return a
}

// URL returns the redis-cluster:// URL vendorq's config takes.
func (c *Cluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// StartCluster starts masters redis-server --cluster-enabled yes nodes,
// joins them with redis-cli --cluster create (slots spread evenly, no
// replicas) and waits until every node reports cluster_state:ok with all
// 16384 slots served. The cluster is stopped when tb ends.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	requireRedis(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := tb.TempDir()
	c := &Cluster{}
	tb.Cleanup(c.Stop)
	taken := map[int]bool{}
	for range masters {
		port, err := clusterPort(taken)
		if err != nil {
			tb.Fatal(err)
		}
		n := newNode(tb, base, port,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
			"--appendonly", "no")
		if err := n.start(ctx); err != nil {
			tb.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("clustertest: redis-cli --cluster create: %v\n%s", err, out)
	}
	err = poll(ctx, 50*time.Millisecond, func() (bool, error) {
		for _, n := range c.Nodes {
			cl := redis.NewClient(&redis.Options{Addr: n.Addr})
			info, _ := cl.ClusterInfo(ctx).Result() // "" while the node is not ready
			_ = cl.Close()
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") ||
				!strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", masters)) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		tb.Fatalf("clustertest: cluster on %v not ready: %v", c.Addrs(), err)
	}
	// A cluster client must see every master (its view comes from CLUSTER SLOTS).
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	err = poll(ctx, 50*time.Millisecond, func() (bool, error) {
		var mu sync.Mutex
		seen := 0
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			if err := m.Ping(ctx).Err(); err != nil {
				return err
			}
			mu.Lock()
			seen++
			mu.Unlock()
			return nil
		})
		return err == nil && seen == masters, nil
	})
	if err != nil {
		tb.Fatalf("clustertest: cluster client does not see %d masters: %v", masters, err)
	}
	return c
}

// Sentinel is a master with one replica watched by sentinels.
type Sentinel struct {
	MasterName string
	Master     *Node
	Replica    *Node
	Sentinels  []*Node
}

// SentinelOptions tune StartSentinel.
type SentinelOptions struct {
	MasterName string // default "mymaster"
	Sentinels  int    // default 3 (quorum = majority)
	// DownAfter is how long the master must be unreachable before a
	// sentinel considers it down (default 1s).
	DownAfter time.Duration
	// AppendFsync of both data nodes (appendonly yes): "always",
	// "everysec" (default, Redis's own default) or "no".
	AppendFsync string
}

// SentinelAddrs returns the sentinels' host:port.
func (s *Sentinel) SentinelAddrs() []string {
	a := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		a[i] = n.Addr
	}
	return a
}

// URL returns the redis-sentinel:// URL vendorq's config takes.
func (s *Sentinel) URL() string {
	return "redis-sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/0?master=" + s.MasterName
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	for _, n := range append([]*Node{s.Master, s.Replica}, s.Sentinels...) {
		if n != nil {
			n.Kill()
		}
	}
}

// StartSentinel starts a master, a replica of it and the sentinels (quorum:
// a majority), and waits until the replica is in sync and every sentinel
// knows the replica and the other sentinels, so that a failover can happen.
func StartSentinel(tb testing.TB, o SentinelOptions) *Sentinel {
	tb.Helper()
	requireRedis(tb)
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.AppendFsync == "" {
		o.AppendFsync = "everysec"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := tb.TempDir()
	s := &Sentinel{MasterName: o.MasterName}
	tb.Cleanup(s.Stop)
	port := func() int {
		p, err := redistest.FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}
	data := []string{"--appendonly", "yes", "--appendfsync", o.AppendFsync}
	s.Master = newNode(tb, base, port(), data...)
	if err := s.Master.start(ctx); err != nil {
		tb.Fatal(err)
	}
	s.Replica = newNode(tb, base, port(), append(data, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))...)
	if err := s.Replica.start(ctx); err != nil {
		tb.Fatal(err)
	}
	quorum := o.Sentinels/2 + 1
	for range o.Sentinels {
		n := newNode(tb, base, port())
		conf := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d %d
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, n.Port, n.Dir, filepath.Join(n.Dir, "redis.log"), o.MasterName, s.Master.Port, quorum,
			o.MasterName, o.DownAfter.Milliseconds(), o.MasterName, o.MasterName)
		path := filepath.Join(n.Dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		// A sentinel rewrites its config file, so it must be its own.
		n.args = []string{path, "--sentinel"}
		if err := n.start(ctx); err != nil {
			tb.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, n)
	}
	err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
		rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
		info, _ := rc.Info(ctx, "replication").Result() // "" while not ready
		_ = rc.Close()
		if !strings.Contains(info, "master_link_status:up") {
			return false, nil
		}
		for _, n := range s.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr})
			m, _ := sc.Master(ctx, o.MasterName).Result() // empty while not ready
			_ = sc.Close()
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != strconv.Itoa(o.Sentinels-1) || m["flags"] != "master" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		tb.Fatalf("clustertest: sentinel setup not ready: %v\nsentinel log:\n%s", err, s.Sentinels[0].Log())
	}
	return s
}

// MasterAddr asks the sentinels which address they give for the master:
// the answer of a majority, or "" when they do not agree yet.
func (s *Sentinel) MasterAddr(ctx context.Context) string {
	votes := map[string]int{}
	for _, n := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		a, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(a) == 2 {
			votes[net.JoinHostPort(a[0], a[1])]++
		}
	}
	for addr, v := range votes {
		if v > len(s.Sentinels)/2 {
			return addr
		}
	}
	return ""
}

// WaitFailover waits (bounded by d) until a majority of sentinels name the
// replica as the master and the replica has taken the role.
func (s *Sentinel) WaitFailover(tb testing.TB, d time.Duration) {
	tb.Helper()
	Poll(tb, d, "sentinel failover to the replica", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s.MasterAddr(ctx) != s.Replica.Addr {
			return false, nil
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
		defer rc.Close()
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:master"), nil
	})
}
