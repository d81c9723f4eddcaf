package dashboards_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/metrics"
)

// registeredFamilies returns the metric family names (and their series
// names, with _bucket/_sum/_count for histograms) that a worker registry
// with the dashboard's collector exposes once every series has a sample.
func registeredFamilies(t *testing.T) map[string]bool {
	t.Helper()
	f := newFixture(t, nil)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.ObserveCall("forms", "baibaoyun", "throttled", "4004", 10*time.Millisecond)
	m.TokenWait.WithLabelValues("forms").Observe(0.1)
	m.EffectiveRate.WithLabelValues("forms").Set(5)
	m.Paused.WithLabelValues("forms").Set(0)
	m.DeadLettered.WithLabelValues("forms", "4001").Inc()
	reg.MustRegister(dashboards.NewCollector(f.store, f.rdb, []string{"forms"}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, fam := range fams {
		names[fam.GetName()] = true
		if fam.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[fam.GetName()+s] = true
			}
		}
	}
	return names
}

var (
	metricRe     = regexp.MustCompile(`\bvendorq_[a-z0-9_]+`)
	promMetricRe = regexp.MustCompile(`(?:^|[^/\w])(vendorq_[a-z0-9_]+)`)
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal(readFile(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// grafanaDashboard is the part of the board the tests read.
type grafanaDashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func TestGrafanaDashboardReferencesOnlyRealMetrics(t *testing.T) {
	var d grafanaDashboard
	if err := json.Unmarshal(readFile(t, "grafana-dashboard.json"), &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("grafana-dashboard.json lacks uid, title or panels")
	}
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("datasource provisioning: %+v", ds)
	}

	known := registeredFamilies(t)
	used := map[string]bool{}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("panel %q does not use the provisioned datasource %q", p.Title, ds.Datasources[0].UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	for _, e := range exprs {
		names := metricRe.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no vendorq metric", e)
		}
		for _, n := range names {
			used[n] = true
			if !known[n] {
				t.Errorf("query %q uses %s, which the worker does not export", e, n)
			}
		}
	}
	// Every series the issue lists has a panel.
	for _, n := range []string{
		metrics.NameCalls, metrics.NameCallDuration + "_bucket", metrics.NameTokenWait + "_bucket", metrics.NameEffectiveRate,
		metrics.NamePaused, dashboards.NameDeadLetterSize, dashboards.NameQueueSize,
	} {
		if !used[n] {
			t.Errorf("the Grafana board has no panel on %s", n)
		}
	}
}

// composeFile is the part of compose.yaml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       map[string]string `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
		Secrets     []string          `yaml:"secrets"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
	} `yaml:"services"`
	Secrets map[string]map[string]string `yaml:"secrets"`
	Volumes map[string]any               `yaml:"volumes"`
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func TestComposeIsConsistent(t *testing.T) {
	var c composeFile
	readYAML(t, "../compose.yaml", &c)
	for _, s := range []string{"redis", "worker", "prometheus", "grafana"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("compose.yaml has no service %q", s)
		}
	}

	redisSvc := c.Services["redis"]
	if flagValue(redisSvc.Command, "--appendonly") != "yes" {
		t.Errorf("redis runs without AOF: command %v", redisSvc.Command)
	}
	if !slices.ContainsFunc(redisSvc.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
		t.Errorf("redis data is not on a volume: %v", redisSvc.Volumes)
	}

	w := c.Services["worker"]
	if df := w.Build["dockerfile"]; df == "" || !fileExists("../"+df) {
		t.Errorf("worker build dockerfile %q missing", df)
	}
	addr := flagValue(w.Command, "--dashboard")
	if addr == "" {
		t.Fatalf("worker command %v serves no dashboard", w.Command)
	}
	// A dashboard beyond loopback needs credentials: the worker must get them.
	creds := dashboards.Credentials{}
	if w.Environment["VENDORQ_DASHBOARD_TOKEN"] != "" {
		creds.Token = "set"
	}
	if err := dashboards.CheckBind(addr, creds); err != nil {
		t.Errorf("the compose worker would refuse to start: %v", err)
	}
	if !strings.HasPrefix(w.Environment["REDIS_URL"], "redis://redis:") {
		t.Errorf("worker REDIS_URL = %q, want the redis service", w.Environment["REDIS_URL"])
	}

	// Bind mounts of repository files point at files that exist.
	userFiles := map[string]bool{"./vendorq.yaml": true} // written by the operator
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			host := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(host, "./") && !userFiles[host] && !fileExists("../"+host) {
				t.Errorf("service %s mounts %s, which is not in the repository", name, host)
			}
			if !strings.HasPrefix(host, "./") && c.Volumes != nil {
				if _, ok := c.Volumes[host]; !ok {
					t.Errorf("service %s uses volume %q that is not declared", name, host)
				}
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s beyond the host's loopback", name, p)
			}
		}
	}

	// Prometheus: the mounted config is this package's, it scrapes the
	// worker's dashboard port with the token compose hands it.
	p := c.Services["prometheus"]
	cfgPath := flagValue(p.Command, "--config.file")
	if !slices.Contains(p.Volumes, "./dashboards/prometheus.yml:"+cfgPath+":ro") {
		t.Errorf("prometheus does not mount dashboards/prometheus.yml at %s: %v", cfgPath, p.Volumes)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			Authorization struct {
				Type            string `yaml:"type"`
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 {
		t.Fatalf("prometheus.yml: want one scrape config, got %+v", prom.ScrapeConfigs)
	}
	sc := prom.ScrapeConfigs[0]
	_, port, _ := strings.Cut(addr, ":")
	if sc.MetricsPath != "/metrics" || len(sc.StaticConfigs) != 1 || !slices.Contains(sc.StaticConfigs[0].Targets, "worker:"+port) {
		t.Errorf("prometheus.yml does not scrape worker:%s/metrics: %+v", port, sc)
	}
	if len(p.Secrets) != 1 || sc.Authorization.CredentialsFile != "/run/secrets/"+p.Secrets[0] || sc.Authorization.Type != "Bearer" {
		t.Errorf("prometheus credentials_file %q does not match its compose secret %v", sc.Authorization.CredentialsFile, p.Secrets)
	}
	if src := c.Secrets[p.Secrets[0]]["environment"]; src != "VENDORQ_DASHBOARD_TOKEN" {
		t.Errorf("secret %s comes from %q, want the worker's VENDORQ_DASHBOARD_TOKEN", p.Secrets[0], src)
	}
	// Metric names in the scrape config (relabel rules, if any; a path
	// such as /run/secrets/vendorq_… is not one).
	if m := promMetricRe.FindAllStringSubmatch(string(readFile(t, "prometheus.yml")), -1); len(m) > 0 {
		known := registeredFamilies(t)
		for _, n := range m {
			if !known[n[1]] {
				t.Errorf("prometheus.yml names %s, which the worker does not export", n[1])
			}
		}
	}

	// Grafana: provisioning mounted, and the provider reads the directory
	// the board is mounted in.
	g := c.Services["grafana"]
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/vendorq.yaml", &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("dashboard provisioning: %+v", prov)
	}
	board := ""
	for _, v := range g.Volumes {
		if strings.HasPrefix(v, "./dashboards/grafana-dashboard.json:") {
			board = strings.Split(v, ":")[1]
		}
	}
	if board == "" || filepath.Dir(board) != prov.Providers[0].Options.Path {
		t.Errorf("grafana board mounted at %q, provider reads %q", board, prov.Providers[0].Options.Path)
	}
	for _, want := range []string{"./dashboards/grafana/provisioning/datasources:/etc/grafana/provisioning/datasources:ro", "./dashboards/grafana/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro"} {
		if !slices.Contains(g.Volumes, want) {
			t.Errorf("grafana does not mount %s", want)
		}
	}
}

func TestDockerfileBuildsTheWorker(t *testing.T) {
	df := string(readFile(t, "../Dockerfile"))
	for _, want := range []string{"./cmd/worker", "CGO_ENABLED=0", "USER nonroot", "EXPOSE 8080", `ENTRYPOINT ["/usr/local/bin/worker"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The Go version of the build image is the module's.
	gomod := string(readFile(t, "../go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil || !strings.Contains(df, "golang:"+m[1]) {
		t.Errorf("Dockerfile's golang image does not match go.mod's go %v", m)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
