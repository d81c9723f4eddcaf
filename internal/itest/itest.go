// Package itest holds helpers for vendorq's integration tests: a config that
// points every vendor at an in-process simulator, bounded polling, queue
// drain checks and building the real binaries once per test process.
package itest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// Endpoint overrides for one endpoint of the test config.
type Endpoint struct {
	Rate        float64
	Concurrency int
	MaxRetry    *int
	QuotaPause  string
	Timeout     string
}

// ConfigYAML returns a config whose four endpoints (forms/baibaoyun,
// tables/yesapi, gjy/dhgjcloud, sms/caihcom) point at the simulator simURL
// with its DefaultConfig credentials. over tunes endpoints by name; an
// endpoint named in skip is left out.
func ConfigYAML(redisURL, simURL string, over map[string]Endpoint, skip ...string) string {
	c := vendorsim.DefaultConfig()
	eps := map[string]string{
		"forms":  fmt.Sprintf("vendor: baibaoyun\n    api_key: %s", c.Baibaoyun.APIKey),
		"tables": fmt.Sprintf("vendor: yesapi\n    app_key: %s\n    app_secret: %s", c.Yesapi.AppKey, c.Yesapi.AppSecret),
		"gjy":    fmt.Sprintf("vendor: dhgjcloud\n    client_id: %s\n    client_secret: %s", c.Dhgjcloud.ClientID, c.Dhgjcloud.ClientSecret),
		"sms":    fmt.Sprintf("vendor: caihcom\n    appkey: %s\n    app_id: %s\n    auth_token: %s", c.Caihcom.AppKey, c.Caihcom.AppID, c.Caihcom.AuthToken),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "redis:\n  url: %s\nendpoints:\n", redisURL)
	for _, name := range []string{"forms", "tables", "gjy", "sms"} {
		if contains(skip, name) {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    %s\n    base_url: %s\n", name, eps[name], simURL)
		o := over[name]
		if o.Rate != 0 {
			fmt.Fprintf(&b, "    rate: %v\n", o.Rate)
		}
		if o.Concurrency != 0 {
			fmt.Fprintf(&b, "    concurrency: %d\n", o.Concurrency)
		}
		if o.MaxRetry != nil {
			fmt.Fprintf(&b, "    max_retry: %d\n", *o.MaxRetry)
		}
		if o.QuotaPause != "" {
			fmt.Fprintf(&b, "    quota_pause: %s\n", o.QuotaPause)
		}
		if o.Timeout != "" {
			fmt.Fprintf(&b, "    timeout: %s\n", o.Timeout)
		}
	}
	return b.String()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Config parses ConfigYAML's output.
func Config(t testing.TB, redisURL, simURL string, over map[string]Endpoint, skip ...string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(ConfigYAML(redisURL, simURL, over, skip...)), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Redis.URL = redisURL
	return cfg
}

// WriteConfig writes ConfigYAML to a file in dir and returns its path.
func WriteConfig(t testing.TB, dir, redisURL, simURL string, over map[string]Endpoint, skip ...string) string {
	t.Helper()
	p := filepath.Join(dir, "vendorq.yaml")
	if err := os.WriteFile(p, []byte(ConfigYAML(redisURL, simURL, over, skip...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// IntPtr returns &n.
func IntPtr(n int) *int { return &n }

// Eventually polls cond every 50ms until it returns true or timeout passes,
// then fails the test with cond's last message.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %v: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Drained reports whether queue has nothing pending, active, scheduled or retrying.
func Drained(in *asynq.Inspector, queue string) (bool, string) {
	qi, err := in.GetQueueInfo(queue)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return true, "queue gone"
		}
		return false, err.Error()
	}
	left := qi.Pending + qi.Active + qi.Scheduled + qi.Retry + qi.Aggregating
	return left == 0, fmt.Sprintf("queue %s: pending=%d active=%d scheduled=%d retry=%d archived=%d",
		queue, qi.Pending, qi.Active, qi.Scheduled, qi.Retry, qi.Archived)
}

var (
	buildMu  sync.Mutex
	builtDir string
)

// Binary builds ./cmd/<name> once per test process and returns its path.
// The binaries are built without -race even under `go test -race`: the
// in-process tests cover races, and multi-process tests measure timing
// (rate-limit windows) that the race detector's slowdown would distort.
func Binary(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDir == "" {
		d, err := os.MkdirTemp("", "vendorq-bin-")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = d
	}
	out := filepath.Join(builtDir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	root := moduleRoot(t)
	args := []string{"build", "-o", out, "./cmd/" + name}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

func moduleRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// Buffer is a bytes.Buffer safe for concurrent writers (a worker logs from
// its own goroutines while the test reads).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
