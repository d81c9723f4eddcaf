// Package redistest starts throwaway redis-server processes for tests.
//
// Each test package starts its own server on a free loopback port (usually
// from TestMain) and hands out isolated logical databases with FreshDB, so no
// test ever flushes a Redis it did not start.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRedisServer is returned when the redis-server binary is not on PATH.
var ErrNoRedisServer = errors.New("redistest: redis-server not found on PATH (install it: apt-get install -y redis-server)")

// Options tune the server; the zero value is an in-memory server.
type Options struct {
	AOF  bool     // appendonly yes, appendfsync always (for restart tests)
	Port int      // 0 = pick a free port
	Args []string // extra redis-server arguments
	Dir  string   // data directory; "" = a new temporary directory
}

// Server is one running redis-server.
type Server struct {
	Addr string
	Port int
	Dir  string

	opts   Options
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	nextDB int
}

const databases = 64

// Start launches redis-server and waits (at most 10 s) until it answers PING.
func Start(opts Options) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNoRedisServer
	}
	s := &Server{opts: opts, Dir: opts.Dir, Port: opts.Port}
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			return nil, fmt.Errorf("redistest: temp dir: %w", err)
		}
		s.Dir = d
	}
	if s.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		s.Port = p
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	if err := s.launch(); err != nil {
		return nil, err
	}
	return s, nil
}

// MustStart starts a server for one test and stops it when the test ends.
func MustStart(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) args() []string {
	a := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--save", "",
		"--databases", strconv.Itoa(databases),
		"--logfile", filepath.Join(s.Dir, "redis.log"),
	}
	if s.opts.AOF {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		a = append(a, "--appendonly", "no")
	}
	return append(a, s.opts.Args...)
}

func (s *Server) launch() error {
	// Not CommandContext: the server outlives this call; kill() stops it.
	cmd := exec.Command("redis-server", s.args()...) //nolint:noctx
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server on %s exited at start; log:\n%s", s.Addr, log)
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("redistest: redis-server on %s did not answer PING within 10s", s.Addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// Stop kills the server and removes its directory when Start created it.
func (s *Server) Stop() {
	s.kill()
	if s.opts.Dir == "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// Restart kills the server (as a crash would) and starts it again on the
// same port and directory, so an AOF server comes back with its data.
func (s *Server) Restart() error {
	s.kill()
	return s.launch()
}

// Crash kills the server without restarting it.
func (s *Server) Crash() { s.kill() }

// Relaunch starts a crashed server again on the same port and directory.
func (s *Server) Relaunch() error { return s.launch() }

// URL returns a redis:// URL for database db.
func (s *Server) URL(db int) string { return fmt.Sprintf("redis://%s/%d", s.Addr, db) }

// FreshDB hands out a logical database no other caller of this Server got,
// empties it, and returns its number. It fails the test when all are used.
func (s *Server) FreshDB(tb testing.TB) int {
	tb.Helper()
	s.mu.Lock()
	db := s.nextDB
	s.nextDB++
	s.mu.Unlock()
	if db >= databases {
		tb.Fatalf("redistest: all %d databases of %s handed out; start another server", databases, s.Addr)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		tb.Fatalf("redistest: flush db %d of our own server %s: %v", db, s.Addr, err)
	}
	return db
}

// Client returns a go-redis client on database db, closed when the test ends.
func (s *Server) Client(tb testing.TB, db int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Main is a TestMain helper: it starts a server, stores it in *srv, runs the
// tests and stops the server. Use: func TestMain(m *testing.M) { redistest.Main(m, &srv) }.
func Main(m *testing.M, srv **Server) {
	s, err := Start(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}
