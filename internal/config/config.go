// Package config loads vendorq.yaml (SPEC §3.1): Redis location and one
// entry per vendor endpoint, with ${VAR} expansion from the environment,
// defaults per vendor and errors that name the offending key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vendorq/vendorq/tasks"
)

// ErrConfig is wrapped by every configuration error (exit code 2).
var ErrConfig = errors.New("config")

// DefaultPath is used when neither --config nor VENDORQ_CONFIG is given.
const DefaultPath = "vendorq.yaml"

// DefaultRedisURL is used when the file, REDIS_URL and --redis are all silent.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Config is the whole file.
type Config struct {
	Redis     Redis                `yaml:"redis"`
	Endpoints map[string]*Endpoint `yaml:"endpoints"`
	Dedupe    Dedupe               `yaml:"dedupe"`
}

// Redis says where Redis is.
type Redis struct {
	URL string `yaml:"url"`
}

// Dedupe tunes the producer-side idempotency window.
type Dedupe struct {
	// Window is how long a finished task's key keeps blocking a re-enqueue
	// of the same key (default 7 days). While a task is queued or running,
	// asynq's task ID already blocks it.
	Window time.Duration `yaml:"window"`
}

// Endpoint is one vendor account.
type Endpoint struct {
	Name    string `yaml:"-"`
	Vendor  string `yaml:"vendor"`
	BaseURL string `yaml:"base_url"`

	APIKey       string `yaml:"api_key"`       // baibaoyun
	AppKey       string `yaml:"app_key"`       // yesapi
	AppSecret    string `yaml:"app_secret"`    // yesapi
	ClientID     string `yaml:"client_id"`     // dhgjcloud
	ClientSecret string `yaml:"client_secret"` // dhgjcloud
	Scope        string `yaml:"scope"`         // dhgjcloud (optional)
	Appkey       string `yaml:"appkey"`        // caihcom
	AppID        string `yaml:"app_id"`        // caihcom
	AuthToken    string `yaml:"auth_token"`    // caihcom

	Rate        float64       `yaml:"rate"`        // calls/second shared by all workers
	Burst       int           `yaml:"burst"`       // calls allowed back to back (default 1)
	Concurrency int           `yaml:"concurrency"` // handler goroutines per worker process
	Timeout     time.Duration `yaml:"timeout"`     // one HTTP exchange
	MaxRetry    *int          `yaml:"max_retry"`   // transient failures before dead-letter
	QuotaPause  time.Duration `yaml:"quota_pause"` // no calls for this long after a quota answer
}

// Vendors and their defaults.
var vendorDefaults = map[string]struct {
	baseURL string
	rate    float64
}{
	"baibaoyun": {"https://webapi.baibaoyun.com", 5},
	"yesapi":    {"http://api.okayapi.com/", 10},
	"dhgjcloud": {"http://saeapi.dhgjcloud.com:18081", 10},
	"caihcom":   {"http://api.caihcom.com", 10},
}

// Defaults for optional endpoint keys.
const (
	DefaultConcurrency  = 10
	DefaultTimeout      = 15 * time.Second
	DefaultMaxRetry     = 8
	DefaultQuotaPause   = 10 * time.Minute
	DefaultDedupeWindow = 7 * 24 * time.Hour
)

// Vendors lists the supported vendor names.
func Vendors() []string {
	v := make([]string, 0, len(vendorDefaults))
	for k := range vendorDefaults {
		v = append(v, k)
	}
	sort.Strings(v)
	return v
}

// IsSMS reports whether the endpoint sends SMS (sms:send) rather than records.
func (e *Endpoint) IsSMS() bool { return e.Vendor == "caihcom" }

// Retries returns max_retry or its default.
func (e *Endpoint) Retries() int {
	if e.MaxRetry == nil {
		return DefaultMaxRetry
	}
	return *e.MaxRetry
}

// Options are the overrides that come from outside the file.
type Options struct {
	Path     string // --config; "" = $VENDORQ_CONFIG, then DefaultPath
	RedisURL string // --redis; beats $REDIS_URL, which beats the file
	Getenv   func(string) string
}

// ResolvePath applies the --config / VENDORQ_CONFIG / default order.
func ResolvePath(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("VENDORQ_CONFIG"); p != "" {
		return p
	}
	return DefaultPath
}

// Load reads, expands, decodes, defaults and validates the file.
func Load(opts Options) (*Config, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	path := ResolvePath(opts.Path, opts.Getenv)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg, err := Parse(raw, opts.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.applyRedisOverrides(opts)
	return cfg, nil
}

// Parse decodes YAML text, expanding ${VAR} in values with getenv.
func Parse(raw []byte, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	lines := map[int]string{}
	if err := expand(&root, "", getenv, lines); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrConfig, friendlyYAML(err, lines))
	}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	fieldNotFound = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)
	lineRef       = regexp.MustCompile(`line (\d+): `)
)

// friendlyYAML rewrites yaml.v3's messages so they name the key: "field x
// not found in type config.Endpoint" becomes "unknown key", and any other
// "line N:" gets the dotted key path of the value on that line.
func friendlyYAML(err error, lines map[int]string) string {
	msg := err.Error()
	msg = fieldNotFound.ReplaceAllStringFunc(msg, func(m string) string {
		p := fieldNotFound.FindStringSubmatch(m)
		where := map[string]string{"Config": "top level", "Redis": "redis", "Endpoint": "an endpoint", "Dedupe": "dedupe"}[p[3]]
		return fmt.Sprintf("line %s: unknown key %q in %s; ", p[1], p[2], where)
	})
	return lineRef.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(lineRef.FindStringSubmatch(m)[1])
		if path, ok := lines[n]; ok {
			return fmt.Sprintf("line %d: %s: ", n, path)
		}
		return m
	})
}

var varRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in scalar values; an unset variable is an error
// naming the key, because an empty secret would fail far later and vaguer.
// It also records, per line, the key path of the scalar on it (for errors).
func expand(n *yaml.Node, path string, getenv func(string) string, lines map[int]string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := expand(c, p, getenv, lines); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			if err := expand(n.Content[i+1], p, getenv, lines); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if _, taken := lines[n.Line]; !taken || strings.Count(path, ".") > strings.Count(lines[n.Line], ".") {
			lines[n.Line] = path
		}
		var missing []string
		n.Value = varRe.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := varRe.FindStringSubmatch(m)[1]
			v := getenv(name)
			if v == "" {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return fmt.Errorf("%w: %s (line %d): environment variable %s is not set", ErrConfig, path, n.Line, strings.Join(missing, ", "))
		}
		return checkType(path, n)
	}
	return nil
}

// typed keys are checked before decoding so that a bad value names its key
// even in a one-line flow mapping, where yaml.v3 can only name the line.
var (
	durationKeys = map[string]bool{"timeout": true, "quota_pause": true, "window": true}
	numberKeys   = map[string]bool{"rate": true, "burst": true, "concurrency": true, "max_retry": true}
)

func checkType(path string, n *yaml.Node) error {
	key := path[strings.LastIndex(path, ".")+1:]
	switch {
	case durationKeys[key]:
		if _, err := time.ParseDuration(n.Value); err != nil {
			return fmt.Errorf("%w: %s (line %d): %q is not a duration like 30s or 10m", ErrConfig, path, n.Line, n.Value)
		}
	case numberKeys[key]:
		if _, err := strconv.ParseFloat(n.Value, 64); err != nil {
			return fmt.Errorf("%w: %s (line %d): %q is not a number", ErrConfig, path, n.Line, n.Value)
		}
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.Dedupe.Window == 0 {
		c.Dedupe.Window = DefaultDedupeWindow
	}
	for name, e := range c.Endpoints {
		if e == nil {
			continue
		}
		e.Name = name
		d, ok := vendorDefaults[e.Vendor]
		if !ok {
			continue
		}
		if e.BaseURL == "" {
			e.BaseURL = d.baseURL
		}
		if e.Rate == 0 {
			e.Rate = d.rate
		}
		if e.Burst == 0 {
			e.Burst = 1
		}
		if e.Concurrency == 0 {
			e.Concurrency = DefaultConcurrency
		}
		if e.Timeout == 0 {
			e.Timeout = DefaultTimeout
		}
		if e.QuotaPause == 0 {
			e.QuotaPause = DefaultQuotaPause
		}
	}
}

func (c *Config) validate() error {
	if len(c.Endpoints) == 0 {
		return fmt.Errorf("%w: endpoints: at least one endpoint is required", ErrConfig)
	}
	for _, name := range c.EndpointNames() {
		e := c.Endpoints[name]
		at := "endpoints." + name
		if e == nil {
			return fmt.Errorf("%w: %s: is empty", ErrConfig, at)
		}
		if !tasks.ValidEndpoint(name) {
			return fmt.Errorf("%w: %s: endpoint names may use letters, digits, _ and - (at most 64)", ErrConfig, at)
		}
		if _, ok := vendorDefaults[e.Vendor]; !ok {
			return fmt.Errorf("%w: %s.vendor: unknown vendor %q (want one of %s)", ErrConfig, at, e.Vendor, strings.Join(Vendors(), ", "))
		}
		for _, req := range e.required() {
			if strings.TrimSpace(req.value) == "" {
				return fmt.Errorf("%w: %s.%s: required for vendor %s", ErrConfig, at, req.key, e.Vendor)
			}
		}
		if !strings.HasPrefix(e.BaseURL, "http://") && !strings.HasPrefix(e.BaseURL, "https://") {
			return fmt.Errorf("%w: %s.base_url: must start with http:// or https://", ErrConfig, at)
		}
		switch {
		case e.Rate < 0 || e.Rate > 100000:
			return fmt.Errorf("%w: %s.rate: must be between 0 and 100000 requests/second", ErrConfig, at)
		case e.Burst < 1 || e.Burst > 10000:
			return fmt.Errorf("%w: %s.burst: must be between 1 and 10000", ErrConfig, at)
		case e.Concurrency < 1 || e.Concurrency > 10000:
			return fmt.Errorf("%w: %s.concurrency: must be between 1 and 10000", ErrConfig, at)
		case e.Timeout < 10*time.Millisecond:
			return fmt.Errorf("%w: %s.timeout: at least 10ms", ErrConfig, at)
		case e.MaxRetry != nil && (*e.MaxRetry < 0 || *e.MaxRetry >= tasks.AsynqMaxRetry):
			return fmt.Errorf("%w: %s.max_retry: must be between 0 and %d", ErrConfig, at, tasks.AsynqMaxRetry-1)
		case e.QuotaPause < time.Second:
			return fmt.Errorf("%w: %s.quota_pause: at least 1s", ErrConfig, at)
		}
	}
	if c.Dedupe.Window < time.Minute {
		return fmt.Errorf("%w: dedupe.window: at least 1m", ErrConfig)
	}
	return nil
}

type requiredField struct{ key, value string }

func (e *Endpoint) required() []requiredField {
	switch e.Vendor {
	case "baibaoyun":
		return []requiredField{{"api_key", e.APIKey}}
	case "yesapi":
		return []requiredField{{"app_key", e.AppKey}, {"app_secret", e.AppSecret}}
	case "dhgjcloud":
		return []requiredField{{"client_id", e.ClientID}, {"client_secret", e.ClientSecret}}
	case "caihcom":
		return []requiredField{{"appkey", e.Appkey}, {"app_id", e.AppID}, {"auth_token", e.AuthToken}}
	}
	return nil
}

func (c *Config) applyRedisOverrides(opts Options) {
	if v := opts.Getenv("REDIS_URL"); v != "" {
		c.Redis.URL = v
	}
	if opts.RedisURL != "" {
		c.Redis.URL = opts.RedisURL
	}
	if c.Redis.URL == "" {
		c.Redis.URL = DefaultRedisURL
	}
}

// EndpointNames returns the endpoint names in sorted order.
func (c *Config) EndpointNames() []string {
	names := make([]string, 0, len(c.Endpoints))
	for n := range c.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Endpoint returns the named endpoint or an error listing the known ones.
func (c *Config) Endpoint(name string) (*Endpoint, error) {
	if e, ok := c.Endpoints[name]; ok && e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("%w: unknown endpoint %q (configured: %s)", ErrConfig, name, strings.Join(c.EndpointNames(), ", "))
}
