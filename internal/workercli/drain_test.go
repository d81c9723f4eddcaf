package workercli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

func TestConfigAndRedisErrorsExit(t *testing.T) {
	dir := t.TempDir()
	cfg := itest.WriteConfig(t, dir, "redis://127.0.0.1:1/0", "http://127.0.0.1:1", nil)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--config", dir + "/missing.yaml"}, cliexit.Usage, "missing.yaml"},
		{[]string{"--config", cfg}, cliexit.Redis, "unreachable"},
		{[]string{"--config", cfg, "--redis", "nope://x"}, cliexit.Usage, "scheme"},
		{[]string{"--bogus"}, cliexit.Usage, "unknown flag"},
		{[]string{"--config", cfg, "--log-level", "loud"}, cliexit.Usage, "--log-level"},
	}
	for _, c := range cases {
		var out, errb itest.Buffer
		code := Main(context.Background(), c.args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		if code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errb.String(), c.msg)
		}
	}
}

// SIGTERM (ctx cancelled) drains: a call in flight finishes and is acked,
// nothing is lost, Main returns 0, and no credential reaches the log.
func TestGracefulDrain(t *testing.T) {
	rs := redistest.MustStart(t, redistest.Options{})
	sim := vendorsim.New(vendorsim.DefaultConfig())
	hs := httptest.NewServer(sim)
	defer hs.Close()
	if err := sim.SetFault(vendorsim.TargetCaihcom, vendorsim.Fault{Latency: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	url := rs.URL(0)
	cfg := itest.WriteConfig(t, t.TempDir(), url, hs.URL, nil)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: rs.Addr})
	defer client.Close()
	task, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{"13812345678"}, Content: "hi", Sign: "【X】", Key: "drain-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var errb itest.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--config", cfg, "--log-format", "json"}, Env{Stdout: &errb, Stderr: &errb, Getenv: func(string) string { return "" }})
	}()
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		return sim.Stats()[vendorsim.TargetCaihcom].Calls == 1, "call not in flight yet"
	})
	cancel() // as SIGTERM does
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("worker did not drain")
	}
	if st := sim.Stats()[vendorsim.TargetCaihcom]; st.Accepted != 1 {
		t.Fatalf("in-flight call lost: %+v", st)
	}
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: rs.Addr})
	defer in.Close()
	if ok, msg := itest.Drained(in, "sms"); !ok {
		t.Fatalf("task not acked after drain: %s", msg)
	}
	log := errb.String()
	def := vendorsim.DefaultConfig()
	for _, secret := range []string{def.Caihcom.AuthToken, def.Baibaoyun.APIKey, def.Yesapi.AppSecret, def.Dhgjcloud.ClientSecret, "13812345678"} {
		if strings.Contains(log, secret) {
			t.Fatalf("log leaks %q:\n%s", secret, log)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
	}
	if !strings.Contains(log, "138****5678") || !strings.Contains(log, "draining") {
		t.Fatalf("expected a masked phone and the drain in the log:\n%s", log)
	}
}
