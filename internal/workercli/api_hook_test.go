package workercli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/itest"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/redistest"
)

const apiTestToken = "workercli-api-token-0123456789"

func writeAPIConfig(t *testing.T, redisURL string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vendorq.yaml")
	cfg := fmt.Sprintf(`
redis: { url: %q }
endpoints:
  forms: { vendor: baibaoyun, base_url: "http://127.0.0.1:1", api_key: k, rate: 5 }
`, redisURL)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAPIRefusedWithoutToken(t *testing.T) {
	// Nothing listens here: the refusal must come before Redis is dialled.
	cfg := writeAPIConfig(t, "redis://127.0.0.1:1/0")
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		token string
		want  string
	}{
		{"no token", []string{"--api", "127.0.0.1:0"}, "", "VENDORQ_API_TOKEN"},
		{"short token", []string{"--api", "127.0.0.1:0"}, "abc", "shorter than 16"},
		{"short token file", []string{"--api", "127.0.0.1:0", "--api-token-file", short}, apiTestToken, "shorter than 16"},
		{"missing token file", []string{"--api", "127.0.0.1:0", "--api-token-file", filepath.Join(t.TempDir(), "nope")}, "", "--api-token-file"},
		{"token file without --api", []string{"--api-token-file", short}, "", "needs --api"},
		{"in-flight bound without --api", []string{"--api-max-in-flight", "2"}, "", "--api-max-in-flight needs --api"},
		{"negative in-flight bound", []string{"--api", "127.0.0.1:0", "--api-max-in-flight", "-1"}, apiTestToken, "is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr itest.Buffer
			env := Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
				if k == EnvAPIToken {
					return tc.token
				}
				return ""
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := Main(ctx, append([]string{"--config", cfg}, tc.args...), env)
			if code != cliexit.Usage || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, stderr.String(), tc.want)
			}
			if tc.token != "" && len(tc.token) > 3 && strings.Contains(stderr.String(), tc.token) {
				t.Fatal("the token was printed")
			}
		})
	}
}

// worker --api serves the API next to the endpoints; a task posted to it
// lands on the endpoint's queue; SIGTERM (ctx) stops both cleanly.
func TestWorkerServesAPI(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	cfg := writeAPIConfig(t, rs.URL(0))
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(apiTestToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr itest.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, []string{"--config", cfg, "--api", addr, "--api-token-file", tokFile, "--log-format", "json"},
			Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	waitHealthy(t, addr, exit, &stderr)
	hc := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/tasks/record",
		strings.NewReader(`{"endpoint":"forms","table":"a/b","data":{"x":1},"key":"via-worker-api"}`))
	req.Header.Set("Authorization", "Bearer "+apiTestToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"task_id":"via-worker-api"`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	// The task is on the forms queue of the worker's Redis (the worker may
	// already be running it against the unreachable vendor: any state will do).
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: rs.Addr})
	defer insp.Close()
	if _, err := insp.GetTaskInfo("forms", "via-worker-api"); err != nil {
		t.Fatalf("task not in Redis: %v", err)
	}
	cancel()
	select {
	case code := <-exit:
		if code != cliexit.OK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("worker did not stop within 60s of the signal")
	}
	if strings.Contains(stderr.String(), apiTestToken) {
		t.Fatal("the token appears in the logs")
	}
	if _, err := hc.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("the API still answers after the worker stopped")
	}
}
