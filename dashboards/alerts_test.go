package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gopkg.in/yaml.v3"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/workercli"
	"github.com/vendorq/vendorq/tasks"
)

// lookTool finds a Prometheus binary. Its absence fails the test (never a
// skip): the alert rules are part of what `make test` checks, and .ci/run
// installs Debian's prometheus package, which ships both binaries.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not on PATH: install Debian's prometheus package (`apt-get install -y prometheus`, as .ci/run does); the alert rules in dashboards/alerts.yml are tested with it", name)
	}
	return p
}

// run runs a tool with a bounded time and fails with its output.
func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
}

// TestAlertRulesPromtool checks alerts.yml's syntax and runs its unit tests
// (alerts_test.yml: every rule fires on its case and stays silent on one).
func TestAlertRulesPromtool(t *testing.T) {
	promtool := lookTool(t, "promtool")
	run(t, promtool, "check", "rules", "alerts.yml")
	run(t, promtool, "test", "rules", "alerts_test.yml")

	// The shipped prometheus.yml, laid out as compose mounts it (alerts.yml
	// beside it; the bearer-token secret file replaced by a temp one), is a
	// valid config whose rule_files resolve.
	dir := t.TempDir()
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "token")
	b = []byte(strings.ReplaceAll(string(b), "/run/secrets/vendorq_dashboard_token", tok))
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"prometheus.yml": b, "alerts.yml": rules, "token": []byte("t")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run(t, promtool, "check", "config", filepath.Join(dir, "prometheus.yml"))
}

// TestAlertRulesLoadedByPrometheusConfig: the config compose mounts names
// alerts.yml in rule_files (resolved next to prometheus.yml, where compose
// mounts it).
func TestAlertRulesLoadedByPrometheusConfig(t *testing.T) {
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != "alerts.yml" {
		t.Fatalf("prometheus.yml rule_files = %q, want [alerts.yml]", cfg.RuleFiles)
	}
	compose, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(compose, &c); err != nil {
		t.Fatal(err)
	}
	want := "./dashboards/alerts.yml:/etc/prometheus/alerts.yml:ro"
	for _, v := range c.Services["prometheus"].Volumes {
		if v == want {
			return
		}
	}
	t.Fatalf("compose.yaml's prometheus service does not mount %q: %q", want, c.Services["prometheus"].Volumes)
}

// testRules returns alerts.yml with the `for:` of alert name set to d. The
// real rules hold a condition for minutes (VendorqEndpointPaused: 2m), which
// no test can wait for; the expression itself is kept as shipped.
func testRules(t *testing.T, name string, d time.Duration) []byte {
	t.Helper()
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r["alert"] == name {
				r["for"] = d.String()
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("alerts.yml has no alert %s", name)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// promAlert is one entry of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// promGet decodes a Prometheus API answer's data into v.
func promGet(base, path string, v any) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		return fmt.Errorf("%s: HTTP %d %.300s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(env.Data, v)
}

// pausedAlert returns the state of VendorqEndpointPaused for endpoint ("" if
// Prometheus has no such alert).
func pausedAlert(base, endpoint string) (string, error) {
	var d struct {
		Alerts []promAlert `json:"alerts"`
	}
	if err := promGet(base, "/api/v1/alerts", &d); err != nil {
		return "", err
	}
	for _, a := range d.Alerts {
		if a.Labels["alertname"] == "VendorqEndpointPaused" && a.Labels["endpoint"] == endpoint {
			return a.State, nil
		}
	}
	return "", nil
}

// TestAlertEndpointPausedFiresInPrometheus starts a real worker (its
// dashboard and /metrics on loopback, vendors in an in-process simulator)
// and a real prometheus scraping it every second with alerts.yml loaded,
// then makes the simulator answer baibaoyun's quota code 4005: the task's
// handler pauses the forms endpoint and sets vendorq_endpoint_paused=1, and
// VendorqEndpointPaused must turn firing. The rule's `for:` is shortened
// from 2m to 2s in the generated rule file (see testRules); the expression
// is the shipped one. From the pause, firing takes about 1 s (scrape) + 1 s
// (evaluation) + 2 s (for) + 1 s (evaluation): the 60 s deadline leaves a
// margin of more than 10x for a loaded CI machine.
func TestAlertEndpointPausedFiresInPrometheus(t *testing.T) {
	promBin := lookTool(t, "prometheus")

	sim := vendorsim.New(vendorsim.DefaultConfig())
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	db := srv.FreshDB(t)
	redisURL := srv.URL(db)
	cfgPath := itest.WriteConfig(t, t.TempDir(), redisURL, hs.URL, nil)

	// The worker, its dashboard on a free loopback port (no credentials
	// needed there).
	wport, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	waddr := fmt.Sprintf("127.0.0.1:%d", wport)
	wctx, wcancel := context.WithCancel(context.Background())
	wlog := &itest.Buffer{}
	wexit := make(chan int, 1)
	go func() {
		wexit <- workercli.Main(wctx, []string{"--config", cfgPath, "--dashboard", waddr},
			workercli.Env{Stdout: io.Discard, Stderr: wlog, Getenv: func(string) string { return "" }})
	}()
	t.Cleanup(func() {
		wcancel()
		select {
		case <-wexit:
		case <-time.After(60 * time.Second):
			t.Error("worker did not stop within 60s")
		}
	})

	// Prometheus: a generated config scraping the worker every second and
	// evaluating the rules every second.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), testRules(t, "VendorqEndpointPaused", 2*time.Second), 0o600); err != nil {
		t.Fatal(err)
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: vendorq-worker
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, waddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pport, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pbase := fmt.Sprintf("http://127.0.0.1:%d", pport)
	plog := &itest.Buffer{}
	prom := exec.Command(promBin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", pport))
	prom.Stdout, prom.Stderr = plog, plog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	pexit := make(chan error, 1)
	go func() { pexit <- prom.Wait() }()
	t.Cleanup(func() {
		_ = prom.Process.Kill()
		select {
		case <-pexit:
		case <-time.After(30 * time.Second):
			t.Error("prometheus did not exit within 30s of SIGKILL")
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n--- prometheus log:\n%s\n--- worker log:\n%s", append(args, plog.String(), wlog.String())...)
	}

	// Before the pause: Prometheus scrapes the worker (up == 1) and the
	// rule is loaded, but the alert is not pending or firing.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var q struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		}
		var rules struct {
			Groups []struct {
				Rules []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"groups"`
		}
		err := promGet(pbase, "/api/v1/query?query="+url.QueryEscape(`up{job="vendorq-worker"} == 1`), &q)
		if err == nil {
			err = promGet(pbase, "/api/v1/rules", &rules)
		}
		if err == nil && len(q.Result) == 1 && len(rules.Groups) == 1 && len(rules.Groups[0].Rules) >= 6 {
			break
		}
		select {
		case e := <-pexit:
			fail("prometheus exited: %v", e)
		case code := <-wexit:
			fail("worker exited %d", code)
		default:
		}
		if time.Now().After(deadline) {
			fail("prometheus did not scrape the worker with the rules loaded within 60s (last: %v, up=%v, rules=%v)", err, q.Result, rules.Groups)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, err := pausedAlert(pbase, "forms"); err != nil || st != "" {
		fail("VendorqEndpointPaused is %q before any pause (err %v)", st, err)
	}

	// The pause: baibaoyun answers its quota code; the handler pauses forms.
	if err := sim.SetFault(vendorsim.TargetBaibaoyun, vendorsim.Fault{Code: "4005"}); err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr, DB: db})
	t.Cleanup(func() { _ = client.Close() })
	task, err := tasks.NewRecordCreateTask(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{"x":1}`), Key: "alert-pause-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	deadline = paused.Add(60 * time.Second)
	last := ""
	for {
		st, err := pausedAlert(pbase, "forms")
		if err == nil && st == "firing" {
			t.Logf("VendorqEndpointPaused firing %v after the task was enqueued (deadline 60s)", time.Since(paused).Round(time.Millisecond))
			return
		}
		last = fmt.Sprintf("state %q, err %v", st, err)
		select {
		case e := <-pexit:
			fail("prometheus exited: %v", e)
		case code := <-wexit:
			fail("worker exited %d", code)
		default:
		}
		if time.Now().After(deadline) {
			fail("VendorqEndpointPaused{endpoint=forms} not firing within 60s of the quota answer (last: %s; simulator: %+v)", last, sim.Stats()[vendorsim.TargetBaibaoyun])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
