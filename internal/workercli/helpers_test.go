package workercli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/workercli"
)

// syncBuffer is a bytes.Buffer safe for the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a worker started through workercli.Main.
type running struct {
	cancel         context.CancelFunc
	code           chan int
	stdout, stderr *syncBuffer
}

// start runs Main(args) in the background with getenv as its environment.
func start(t *testing.T, getenv func(string) string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, code: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	go func() {
		r.code <- workercli.Main(ctx, args, workercli.Env{Stdout: r.stdout, Stderr: r.stderr, Getenv: getenv})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.code:
		case <-time.After(60 * time.Second):
			t.Errorf("worker did not stop within 60s of its context ending")
		}
	})
	return r
}

// stop cancels the worker (as Ctrl-C does) and returns its exit code.
func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case c := <-r.code:
		r.code <- c // for the cleanup
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("worker did not exit within 60s of Ctrl-C; stderr:\n%s", r.stderr.String())
		return -1
	}
}

// exited reports the exit code if Main already returned.
func (r *running) exited() (int, bool) {
	select {
	case c := <-r.code:
		r.code <- c
		return c, true
	default:
		return 0, false
	}
}

// waitFor polls fn every 100ms until it returns true, failing after d.
func waitFor(t *testing.T, r *running, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if c, done := r.exited(); done {
			t.Fatalf("waiting for %s: worker exited with %d; stderr:\n%s", what, c, r.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; stderr:\n%s", what, d, r.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get fetches url with optional basic auth ("" = none).
func get(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
