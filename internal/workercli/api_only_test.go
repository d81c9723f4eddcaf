package workercli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// writeProducerConfig writes a config without any vendor credential (the
// SMS endpoint keeps a credential line whose variable is unset).
func writeProducerConfig(t *testing.T, redisURL string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "producer.yaml")
	cfg := fmt.Sprintf(`redis: { url: %q }
endpoints:
  forms: { vendor: baibaoyun, rate: 5 }
  sms:
    vendor: caihcom
    auth_token: ${CAIHCOM_AUTH_TOKEN}
`, redisURL)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func apiEnv(stderr io.Writer) Env {
	return Env{Stdout: io.Discard, Stderr: stderr, Getenv: func(k string) string {
		if k == EnvAPIToken {
			return apiTestToken
		}
		return ""
	}}
}

// A worker (it calls vendors) refuses the producer's config: exit 2 naming
// the first missing credential, before Redis is dialled.
func TestWorkerRefusesProducerConfig(t *testing.T) {
	withVar := writeProducerConfig(t, "redis://127.0.0.1:1/0")
	plain := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(plain, []byte("redis: { url: redis://127.0.0.1:1/0 }\nendpoints:\n  sms: { vendor: caihcom }\n  forms: { vendor: baibaoyun }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", plain}, "endpoints.forms.api_key: required for vendor baibaoyun"},
		{[]string{"--config", plain, "--api", "127.0.0.1:0"}, "endpoints.forms.api_key: required"},
		{[]string{"--config", withVar}, "endpoints.sms.auth_token (line 6): environment variable CAIHCOM_AUTH_TOKEN is not set"},
	} {
		var stderr itest.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := Main(ctx, tc.args, apiEnv(&stderr))
		cancel()
		if code != cliexit.Usage || !strings.Contains(stderr.String(), tc.want) {
			t.Fatalf("%v: exit %d, stderr %q; want 2 naming %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestAPIOnlyFlagsExit2(t *testing.T) {
	cfg := writeProducerConfig(t, "redis://127.0.0.1:1/0")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg, "--api-only"}, "--api-only needs --api ADDR"},
		{[]string{"--config", cfg, "--api-only", "--api", "127.0.0.1:0", "--dashboard", "127.0.0.1:0"}, "--api-only serves no dashboard"},
		{[]string{"--api-only", "--api", "127.0.0.1:0", "--dev"}, "--api-only and --dev"},
		{[]string{"--config", cfg, "--api-only", "--api", "127.0.0.1:0", "--api-max-in-flight", "-1"}, "is negative"},
	} {
		var stderr itest.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := Main(ctx, tc.args, apiEnv(&stderr))
		cancel()
		if code != cliexit.Usage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 mentioning %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// worker --api-only serves the API with the producer's config: tasks land
// on their queues and stay pending, since no endpoint is served; then a
// worker with the full config (credentials, against the simulator) runs
// them.
func TestAPIOnlyServesWithoutCredentials(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	cfg := writeProducerConfig(t, rs.URL(0))
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr itest.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, []string{"--config", cfg, "--api", addr, "--api-only", "--log-format", "json"}, apiEnv(&stderr))
	}()
	waitHealthy(t, addr, exit, &stderr)
	hc := &http.Client{Timeout: 5 * time.Second}
	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiTestToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/v1/tasks/record", `{"endpoint":"forms","table":"a/b","data":{"x":1},"key":"via-api-only"}`); code != http.StatusAccepted || !strings.Contains(body, `"task_id":"via-api-only"`) {
		t.Fatalf("POST record: %d %s", code, body)
	}
	code, body := post("/v1/tasks/sms", `{"endpoint":"sms","phones":["13800000000"],"content":"您好","sign":"【X】"}`)
	var sms struct {
		TaskID string `json:"task_id"`
	}
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &sms) != nil || sms.TaskID == "" {
		t.Fatalf("POST sms: %d %s", code, body)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: rs.Addr})
	defer insp.Close()
	for queue, id := range map[string]string{"forms": "via-api-only", "sms": sms.TaskID} {
		ti, err := insp.GetTaskInfo(queue, id)
		if err != nil || ti.State != asynq.TaskStatePending {
			t.Fatalf("%s task %s: %+v %v; want pending (nothing serves the queue)", queue, id, ti, err)
		}
	}
	if servers, err := insp.Servers(); err != nil || len(servers) != 0 {
		t.Fatalf("an API-only process runs asynq servers: %+v %v", servers, err)
	}
	if !strings.Contains(stderr.String(), "API only") {
		t.Errorf("no API-only start line: %s", stderr.String())
	}
	cancel()
	select {
	case code := <-exit:
		if code != cliexit.OK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("did not stop within 60s of the signal")
	}
	if strings.Contains(stderr.String(), apiTestToken) {
		t.Fatal("the token appears in the logs")
	}

	sim := httptest.NewServer(vendorsim.New(vendorsim.DefaultConfig()))
	defer sim.Close()
	full := itest.WriteConfig(t, t.TempDir(), rs.URL(0), sim.URL, nil)
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	var wlog itest.Buffer
	wexit := make(chan int, 1)
	go func() { wexit <- Main(wctx, []string{"--config", full, "--log-format", "json"}, apiEnv(&wlog)) }()
	for _, q := range []string{"forms", "sms"} {
		itest.Eventually(t, 30*time.Second, func() (bool, string) {
			ok, msg := itest.Drained(insp, q)
			qi, err := insp.GetQueueInfo(q)
			if err != nil {
				return false, err.Error()
			}
			if qi.Archived > 0 {
				return false, "dead letters: " + msg + "\n" + wlog.String()
			}
			return ok && qi.Processed > 0 && qi.Failed == 0, fmt.Sprintf("%s processed=%d failed=%d", msg, qi.Processed, qi.Failed)
		})
	}
	wcancel()
	if code := <-wexit; code != cliexit.OK {
		t.Fatalf("full worker exit %d: %s", code, wlog.String())
	}
}
