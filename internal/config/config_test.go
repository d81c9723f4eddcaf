package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `
redis:
  url: redis://127.0.0.1:6379/0
endpoints:
  forms:
    vendor: baibaoyun
    base_url: https://webapi.baibaoyun.com
    api_key: ${BAIBAOYUN_API_KEY}
    rate: 5
    burst: 1
  tables:   { vendor: yesapi,    base_url: "http://api.okayapi.com/", app_key: k, app_secret: s, rate: 10 }
  gjy:      { vendor: dhgjcloud, base_url: "http://saeapi.dhgjcloud.com:18081", client_id: c, client_secret: s, rate: 10, max_retry: 0 }
  sms:      { vendor: caihcom,   base_url: "http://api.caihcom.com", appkey: a, app_id: b, auth_token: t, rate: 10, quota_pause: 30s, timeout: 2s, concurrency: 3 }
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseSpecExample(t *testing.T) {
	cfg, err := Parse([]byte(sample), env(map[string]string{"BAIBAOYUN_API_KEY": "secret-key"}))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Endpoints["forms"]
	if f.Credentials["api_key"] != "secret-key" || f.Rate != 5 || f.Name != "forms" || f.Concurrency != DefaultConcurrency || f.Retries() != DefaultMaxRetry {
		t.Fatalf("forms: %+v", f)
	}
	s := cfg.Endpoints["sms"]
	if !s.IsSMS() || s.QuotaPause != 30*time.Second || s.Timeout != 2*time.Second || s.Concurrency != 3 {
		t.Fatalf("sms: %+v", s)
	}
	if cfg.Endpoints["gjy"].Retries() != 0 {
		t.Fatal("explicit max_retry 0 must be kept")
	}
	if got := strings.Join(cfg.EndpointNames(), ","); got != "forms,gjy,sms,tables" {
		t.Fatalf("names %s", got)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "endpoints:\n  f: {vendor: baibaoyun, api_key: k, rat: 5}\n", `unknown key "rat"`},
		{"unknown top key", "endpoint: {}\n", `unknown key "endpoint"`},
		{"unknown vendor", "endpoints:\n  f: {vendor: nope}\n", "endpoints.f.vendor"},
		{"missing credential", "endpoints:\n  f: {vendor: yesapi, app_key: k}\n", "endpoints.f.app_secret"},
		{"unset env", "endpoints:\n  f:\n    vendor: baibaoyun\n    api_key: ${NOPE}\n", "endpoints.f.api_key"},
		{"bad rate", "endpoints:\n  f: {vendor: baibaoyun, api_key: k, rate: -1}\n", "endpoints.f.rate"},
		{"bad duration", "endpoints:\n  f: {vendor: baibaoyun, api_key: k, timeout: soon}\n", "timeout"},
		{"bad max_retry", "endpoints:\n  f: {vendor: baibaoyun, api_key: k, max_retry: -2}\n", "endpoints.f.max_retry"},
		{"bad name", "endpoints:\n  'a b': {vendor: baibaoyun, api_key: k}\n", "endpoints.a b"},
		{"no endpoints", "redis: {url: redis://x}\n", "endpoints"},
		{"bad base_url", "endpoints:\n  f: {vendor: baibaoyun, api_key: k, base_url: ftp://x}\n", "endpoints.f.base_url"},
		{"not yaml", "endpoints: [\n", "config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), env(nil))
			if err == nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
		})
	}
}

func TestSecretNotInErrors(t *testing.T) {
	_, err := Parse([]byte("endpoints:\n  f: {vendor: yesapi, app_key: topsecretvalue, rate: -5, app_secret: x}\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "topsecretvalue") {
		t.Fatalf("error leaks a credential: %v", err)
	}
}

func TestRedisOverrideOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vq.yaml")
	if err := os.WriteFile(path, []byte("redis: {url: redis://file:1/0}\nendpoints:\n  f: {vendor: baibaoyun, api_key: k}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(flag string, e map[string]string) string {
		cfg, err := Load(Options{Path: path, RedisURL: flag, Getenv: env(e)})
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Redis.URL
	}
	if got := load("", nil); got != "redis://file:1/0" {
		t.Fatalf("file: %s", got)
	}
	if got := load("", map[string]string{"REDIS_URL": "redis://env:2/0"}); got != "redis://env:2/0" {
		t.Fatalf("env: %s", got)
	}
	if got := load("redis://flag:3/0", map[string]string{"REDIS_URL": "redis://env:2/0"}); got != "redis://flag:3/0" {
		t.Fatalf("flag: %s", got)
	}
	// VENDORQ_CONFIG is used when --config is absent.
	cfg, err := Load(Options{Getenv: env(map[string]string{"VENDORQ_CONFIG": path})})
	if err != nil || cfg.Endpoints["f"] == nil {
		t.Fatalf("VENDORQ_CONFIG: %v", err)
	}
	if _, err := Load(Options{Path: filepath.Join(dir, "missing.yaml"), Getenv: env(nil)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing file: %v", err)
	}
}

// The example shipped in the repository stays valid.
func TestExampleConfigParses(t *testing.T) {
	raw, err := os.ReadFile("../../vendorq.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(raw, func(k string) string { return "value-of-" + k })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Endpoints) != 4 || cfg.Endpoints["sms"].Credentials["auth_token"] != "value-of-CAIHCOM_AUTH_TOKEN" || cfg.Endpoints["sms"].Retries() != 3 {
		t.Fatalf("%+v", cfg.Endpoints["sms"])
	}
	if _, err := Parse(raw, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "BAIBAOYUN_API_KEY") {
		t.Fatalf("unset variables must be named: %v", err)
	}
}

// A done marker shorter than asynq's recovery of a lost acknowledgement
// would let the recovered run call the vendor again: refused, naming the
// key and the floor.
func TestDedupeWindowFloor(t *testing.T) {
	base := "redis:\n  url: redis://127.0.0.1:6379/0\nendpoints:\n  gjy: {vendor: dhgjcloud}\n"
	for yaml, want := range map[string]string{
		base + "dedupe:\n  window: 1m\n":  "dedupe.window: at least 5m0s, got 1m0s",
		base + "dedupe:\n  window: 4m\n":  "dedupe.window: at least 5m0s, got 4m0s",
		base + "dedupe:\n  window: -1h\n": "dedupe.window: at least 5m0s",
		base + "dedupe:\n  window: 5m\n":  "",
		base:                              "",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Options{Path: path, Getenv: func(string) string { return "" }, Role: RoleProducer})
		if want == "" && err != nil {
			t.Errorf("%q: %v", yaml, err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: error %v, want one saying %q", yaml, err, want)
		}
	}
}

func TestResultsRetention(t *testing.T) {
	base := "redis:\n  url: redis://127.0.0.1:6379/0\nendpoints:\n  gjy: {vendor: dhgjcloud}\n"
	cases := []struct {
		yaml string
		want time.Duration
		err  string
	}{
		{base, DefaultResultRetention, ""},
		{base + "results:\n  retention: 48h\n", 48 * time.Hour, ""},
		{base + "results:\n  retention: 10s\n", 0, "results.retention: at least 1m"},
		{base + "results:\n  retention: -1h\n", 0, "results.retention: at least 1m"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Options{Path: path, Getenv: func(string) string { return "" }, Role: RoleProducer})
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one naming %q", c.yaml, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.yaml, err)
		case c.err == "" && cfg.Results.Retention != c.want:
			t.Errorf("%q: retention %v, want %v", c.yaml, cfg.Results.Retention, c.want)
		}
	}
}

// The idle keys (docs/idle.md) are read, checked with the key named, and
// left zero (the worker's defaults) when absent.
func TestIdleKeys(t *testing.T) {
	base := "redis:\n  url: redis://127.0.0.1:6379/0\nendpoints:\n  gjy: {vendor: dhgjcloud}\n"
	for yaml, want := range map[string]struct {
		idle Idle
		err  string
	}{
		base: {},
		base + "idle:\n  always_on: true\n  grace: 30s\n  sweep_budget: 1000\n": {idle: Idle{AlwaysOn: true, Grace: 30 * time.Second, SweepBudget: 1000}},
		base + "idle:\n  grace: 200ms\n":                                        {err: "idle.grace: at least 1s, got 200ms"},
		base + "idle:\n  sweep_budget: 5\n":                                     {err: "idle.sweep_budget: between 10 and 100000"},
		base + "idle:\n  sweep_budget: 1e6\n":                                   {err: "idle.sweep_budget: between 10 and 100000"},
		base + "idle:\n  always_on: maybe\n":                                    {err: "idle.always_on"},
		base + "idle:\n  grace_period: 10s\n":                                   {err: "idle.grace_period"},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Options{Path: path, Getenv: func(string) string { return "" }, Role: RoleProducer})
		switch {
		case want.err != "" && (err == nil || !strings.Contains(err.Error(), want.err)):
			t.Errorf("%q: error %v, want one naming %q", yaml, err, want.err)
		case want.err == "" && err != nil:
			t.Errorf("%q: %v", yaml, err)
		case want.err == "" && cfg.Idle != want.idle:
			t.Errorf("%q: idle %+v, want %+v", yaml, cfg.Idle, want.idle)
		}
	}
}
