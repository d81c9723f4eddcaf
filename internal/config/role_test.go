package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A producer's config: endpoints with a vendor and tuning, no credential.
const producerSample = `
endpoints:
  forms: { vendor: baibaoyun, rate: 5 }
  tables: { vendor: yesapi }
  sms:
    vendor: caihcom
    appkey: ${CAIHCOM_APPKEY}
    auth_token: ${CAIHCOM_AUTH_TOKEN}
    quota_pause: 30s
`

func TestProducerNeedsNoCredentials(t *testing.T) {
	cfg, err := ParseRole([]byte(producerSample), env(nil), RoleProducer)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Endpoints["sms"]; !s.IsSMS() || len(s.Credentials) != 0 || s.QuotaPause.String() != "30s" {
		t.Fatalf("sms: %+v", s)
	}
	if f := cfg.Endpoints["forms"]; f.Rate != 5 || f.BaseURL == "" || f.Concurrency != DefaultConcurrency {
		t.Fatalf("forms: %+v", f)
	}
	// A set variable still expands; only the unset one is left out.
	cfg, err = ParseRole([]byte(producerSample), env(map[string]string{"CAIHCOM_APPKEY": "ak"}), RoleProducer)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Endpoints["sms"].Credentials; c["appkey"] != "ak" || len(c) != 1 {
		t.Fatalf("credentials %v", c)
	}
}

// The same file for a worker: the first missing credential, by name.
func TestWorkerStillRequiresCredentials(t *testing.T) {
	_, err := ParseRole([]byte(producerSample), env(nil), RoleWorker)
	if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "CAIHCOM_AUTH_TOKEN") {
		t.Fatalf("unset credential variables must fail a worker: %v", err)
	}
	noVars := "endpoints:\n  tables: { vendor: yesapi }\n  forms: { vendor: baibaoyun }\n"
	for _, parse := range []func() error{
		func() error { _, err := Parse([]byte(noVars), env(nil)); return err },
		func() error { _, err := ParseRole([]byte(noVars), env(nil), RoleWorker); return err },
	} {
		if err := parse(); err == nil || !strings.Contains(err.Error(), "endpoints.forms.api_key: required") {
			t.Fatalf("want endpoints.forms.api_key named, got %v", err)
		}
	}
	if _, err := ParseRole([]byte(noVars), env(nil), RoleProducer); err != nil {
		t.Fatal(err)
	}
}

// Everything but credentials is checked for a producer as for a worker.
func TestProducerErrorsNameTheKey(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "endpoints:\n  f:\n    vendor: baibaoyun\n    rat: 5\n", `line 4: endpoints.f.rat: unknown key "rat"`},
		{"unknown key in flow", "endpoints:\n  f: {vendor: baibaoyun, rat: 5}\n", `line 2: endpoints.f.rat: unknown key`},
		{"key of another vendor", "endpoints:\n  f: {vendor: baibaoyun, app_secret: x}\n", `endpoints.f.app_secret: unknown key`},
		{"unknown vendor", "endpoints:\n  f: {vendor: nope}\n", "endpoints.f.vendor: unknown vendor"},
		{"unset vendor", "endpoints:\n  f:\n    vendor: ${VENDOR}\n", "endpoints.f.vendor (line 3): environment variable VENDOR is not set"},
		{"unset base_url", "endpoints:\n  f:\n    vendor: baibaoyun\n    base_url: ${BASE}\n", "endpoints.f.base_url (line 4)"},
		{"unset redis", "redis: {url: '${REDIS}'}\nendpoints:\n  f: {vendor: baibaoyun}\n", "redis.url"},
		{"bad rate", "endpoints:\n  f: {vendor: baibaoyun, rate: -1}\n", "endpoints.f.rate"},
		{"bad duration", "endpoints:\n  f:\n    vendor: baibaoyun\n    timeout: soon\n", "endpoints.f.timeout (line 4)"},
		{"sms key on records", "endpoints:\n  f: {vendor: baibaoyun, daily_budget: 5}\n", "only SMS endpoints take daily_budget"},
		{"credential not a string", "endpoints:\n  f:\n    vendor: baibaoyun\n    api_key: [a]\n", "line 4: endpoints.f.api_key: must be a string"},
		{"no endpoints", "redis: {url: redis://x}\n", "endpoints"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRole([]byte(c.yaml), env(nil), RoleProducer)
			if err == nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
		})
	}
}

func TestLoadRole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(producerSample), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{Path: path, Getenv: env(nil), Role: RoleProducer}); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Options{Path: path, Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "CAIHCOM_APPKEY") {
		t.Fatalf("the default role is the worker's: %v", err)
	}
	if RoleProducer.String() != "producer" || Role(0).String() != "worker" {
		t.Fatal("role names")
	}
}

// The producer example shipped in the repository stays valid for a
// producer with an empty environment, and a worker refuses it by the first
// missing credential.
func TestProducerExampleConfigParses(t *testing.T) {
	raw, err := os.ReadFile("../../vendorq.producer.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseRole(raw, func(string) string { return "" }, RoleProducer)
	if err != nil {
		t.Fatal(err)
	}
	example, err := Parse(mustRead(t, "../../vendorq.example.yaml"), func(k string) string { return "value-of-" + k })
	if err != nil {
		t.Fatal(err)
	}
	// The same endpoints (names are queues) of the same vendors as the worker's example.
	if got, want := strings.Join(cfg.EndpointNames(), ","), strings.Join(example.EndpointNames(), ","); got != want {
		t.Fatalf("producer example endpoints %s, worker example %s", got, want)
	}
	for name, e := range cfg.Endpoints {
		if e.Vendor != example.Endpoints[name].Vendor || len(e.Credentials) != 0 {
			t.Fatalf("%s: %+v", name, e)
		}
	}
	if cfg.Dedupe.Window != example.Dedupe.Window {
		t.Fatalf("dedupe window %v, the worker's %v", cfg.Dedupe.Window, example.Dedupe.Window)
	}
	if _, err := Parse(raw, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "endpoints.forms.api_key") {
		t.Fatalf("a worker must refuse the producer example naming endpoints.forms.api_key: %v", err)
	}
	// The worker's example serves a producer too, its variables unset.
	full, err := ParseRole(mustRead(t, "../../vendorq.example.yaml"), func(string) string { return "" }, RoleProducer)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range full.Endpoints {
		if len(e.Credentials) != 0 {
			t.Fatalf("%s keeps credentials from unset variables: %v", name, e.Credentials)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
