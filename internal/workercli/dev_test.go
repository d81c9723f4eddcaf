package workercli_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/devdemo"
)

// scrape parses /metrics; nil when it cannot be read.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, url, "", "")
	if code != http.StatusOK {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return fams
}

// series returns the label sets of name's samples as "k=v,k=v" strings.
func series(fams map[string]*dto.MetricFamily, name string) map[string]*dto.Metric {
	out := map[string]*dto.Metric{}
	f := fams[name]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		out[strings.Join(ls, ",")] = m
	}
	return out
}

// missingSeries lists what the issue asks of /metrics that fams lacks.
func missingSeries(fams map[string]*dto.MetricFamily) []string {
	var miss []string
	need := func(ok bool, what string) {
		if !ok {
			miss = append(miss, what)
		}
	}
	calls := fams["vendorq_vendor_calls_total"]
	classes := map[string]bool{}
	if calls != nil {
		for _, m := range calls.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			if ls["code"] != "" && ls["endpoint"] != "" {
				classes[ls["class"]] = true
			}
		}
	}
	for _, name := range []string{"vendorq_dead_lettered_total", "vendorq_throttled_total", "vendorq_redis_up"} {
		need(fams[name] != nil, name)
	}
	for _, c := range []string{"ok", "throttled", "permanent"} {
		need(classes[c], "vendorq_vendor_calls_total class="+c+" with a vendor code")
	}
	for _, ep := range devdemo.Endpoints {
		need(series(fams, "vendorq_vendor_call_duration_seconds")["endpoint="+ep+",vendor="+vendorOf(ep)] != nil, "call latency histogram for "+ep)
		need(series(fams, "vendorq_token_wait_seconds")["endpoint="+ep] != nil, "token wait histogram for "+ep)
		need(series(fams, "vendorq_effective_rate")["endpoint="+ep] != nil, "effective rate of "+ep)
		need(series(fams, "vendorq_endpoint_paused")["endpoint="+ep] != nil, "paused state of "+ep)
		need(series(fams, "vendorq_dead_letter_size")["endpoint="+ep] != nil, "dead-letter size of "+ep)
		for _, st := range []string{"pending", "active", "scheduled", "retry", "archived", "completed"} {
			need(series(fams, "vendorq_queue_size")["endpoint="+ep+",state="+st] != nil, "queue size of "+ep+" "+st)
		}
	}
	if m := series(fams, "vendorq_dead_letter_size")["endpoint=sms"]; m == nil || m.GetGauge().GetValue() < 1 {
		miss = append(miss, "a dead letter on sms")
	}
	if m := series(fams, "vendorq_token_wait_seconds")["endpoint=forms"]; m == nil || m.GetHistogram().GetSampleCount() == 0 {
		miss = append(miss, "token waits observed on forms")
	}
	return miss
}

func vendorOf(ep string) string {
	return map[string]string{"forms": "baibaoyun", "tables": "yesapi", "gjy": "dhgjcloud", "sms": "caihcom"}[ep]
}

// `worker --dev` (README command 1) needs nothing but Go: after the demo
// has run a while, /metrics carries every series of the issue, the Grafana
// board's queries all name series it exports, the dead-letter view shows the
// demo's dead letter (phone masked), and Ctrl-C exits 0.
func TestDevDemoFeedsMetricsAndDashboard(t *testing.T) {
	addr := freeAddr(t)
	r := start(t, nil, "--dev", "--dashboard", addr)
	base := "http://" + addr

	var fams map[string]*dto.MetricFamily
	var miss []string
	waitFor(t, r, 90*time.Second, "every series on /metrics", func() bool {
		fams = scrape(t, base+"/metrics")
		miss = missingSeries(fams)
		return fams != nil && len(miss) == 0
	})

	// The Grafana board only queries series the worker exports.
	board, err := os.ReadFile("../../dashboards/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(board, &d); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\bvendorq_[a-z0-9_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if fams[name] == nil && (fams[base] == nil || fams[base].GetType() != dto.MetricType_HISTOGRAM) {
					t.Errorf("the Grafana board queries %s, which `worker --dev` does not export", name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no metric names found in the Grafana board")
	}

	code, page := get(t, base+"/dlq", "", "")
	if code != http.StatusOK || !strings.Contains(page, "9001") || !strings.Contains(page, "139****0404") || strings.Contains(page, devdemo.BadPhone) {
		t.Errorf("/dlq after the demo: %d; want the refused SMS (code 9001, phone masked)\n%s", code, page)
	}
	if code, body := get(t, base+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	for _, want := range []string{base + "/monitoring/", base + "/dlq", base + "/metrics", "miniredis", "Ctrl-C"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("the start banner does not mention %s:\n%s", want, r.stdout.String())
		}
	}
	logs := r.stderr.String()
	if strings.Contains(logs, `{"level"`) || !strings.Contains(logs, "INF") {
		t.Errorf("--dev logs are not console-formatted:\n%.500s", logs)
	}
	if regexp.MustCompile(`\b1[3-9][0-9]{9}\b`).MatchString(logs) {
		t.Error("an unmasked phone number appears in the logs")
	}
	if code := r.stop(t); code != cliexit.OK {
		t.Fatalf("exit %d after Ctrl-C; stderr tail:\n%s", code, tail(r.stderr.String(), 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
