// Package config loads vendorq.yaml (README "Configuration"): Redis location and
// one entry per vendor endpoint, with ${VAR} expansion from the environment,
// defaults per vendor and errors that name the offending key and its line.
//
// What a vendor is (its defaults, its credential keys, records or SMS)
// comes from its descriptor in vendorclient: this package names no vendor.
package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vendorq/vendorq/vendorclient"
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
	Results   Results              `yaml:"results"`
	Idle      Idle                 `yaml:"idle"`
}

// Idle tunes how a worker treats endpoints without work (docs/idle.md):
// an endpoint's asynq server runs only while it has work, started by a
// producer's wake or found by a paced sweep. Zero values take the
// worker's defaults.
type Idle struct {
	// AlwaysOn runs every endpoint's server all the time, as plain asynq
	// does, for a fleet whose producers enqueue with asynq's client alone
	// (they write no wake: their tasks wait for the sweep, up to ~12 s at
	// 1,000 endpoints). It costs ~55 Redis commands/s per idle endpoint.
	AlwaysOn bool `yaml:"always_on"`
	// Grace is how long a server with nothing to do keeps running before
	// it is stopped (default 5s; at least 1s).
	Grace time.Duration `yaml:"grace"`
	// SweepBudget is the Redis commands/s the sweep for unannounced work
	// may cost per worker process (default 250; 10 to 100000): a higher
	// budget finds such work sooner on many endpoints.
	SweepBudget float64 `yaml:"sweep_budget"`
}

// Results tunes what is kept of a finished task (internal/results) and of
// an import batch (internal/batch).
type Results struct {
	// Retention is how long a done task's result, and a batch after its
	// last activity, are kept (default 7 days).
	Retention time.Duration `yaml:"retention"`
	// NotifySecret signs the completion webhook of `enqueue import
	// --notify URL` (HMAC-SHA256, docs/batches.md): the importing process
	// and the workers need the same one. Usually ${VENDORQ_NOTIFY_SECRET}.
	NotifySecret string `yaml:"notify_secret"`
}

// DefaultResultRetention is Results.Retention when the file gives none.
const DefaultResultRetention = 7 * 24 * time.Hour

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
	// Credentials are the vendor's own keys (api_key, app_secret, …): the
	// keys its descriptor declares, decoded beside the fields below.
	Credentials Credentials `yaml:"-"`

	Rate        float64       `yaml:"rate"`        // calls/second shared by all workers
	Burst       int           `yaml:"burst"`       // calls allowed back to back (default 1)
	Concurrency int           `yaml:"concurrency"` // handler goroutines per worker process
	Timeout     time.Duration `yaml:"timeout"`     // one HTTP exchange
	MaxRetry    *int          `yaml:"max_retry"`   // transient failures before dead-letter
	QuotaPause  time.Duration `yaml:"quota_pause"` // no calls for this long after a quota answer

	// SMS endpoints only (spend.go): per-phone caps and the day's budget;
	// zero = off.
	PhoneLimits PhoneLimits `yaml:"phone_limits"`
	DailyBudget int         `yaml:"daily_budget"`

	// SendWindow holds the tasks of some lanes outside a time of day
	// (window.go); nil = none.
	SendWindow *SendWindow `yaml:"send_window"`
}

// Credentials are an endpoint's vendor keys by name. They print as their
// names only, so that logging an Endpoint (%v, %+v, %#v) shows no secret.
type Credentials map[string]string

func (c Credentials) String() string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k+":***")
	}
	sort.Strings(names)
	return "{" + strings.Join(names, " ") + "}"
}

// GoString keeps %#v as discreet as %v.
func (c Credentials) GoString() string { return c.String() }

// Defaults for optional endpoint keys. The base URL and the rate default
// per vendor (vendorclient.Descriptor).
const (
	DefaultConcurrency  = 10
	DefaultTimeout      = vendorclient.DefaultTimeout
	DefaultMaxRetry     = 8
	DefaultQuotaPause   = 10 * time.Minute
	DefaultDedupeWindow = 7 * 24 * time.Hour
	// MinDedupeWindow: the done marker that keeps a task from calling its
	// vendor twice lives this long at least. asynq runs a task whose
	// acknowledgement was lost again 60-120 s later (lease expiry, then its
	// recoverer: docs/asynq-traps.md); the run checks the marker first.
	MinDedupeWindow = 5 * time.Minute
)

// Descriptor returns the registry entry of the endpoint's vendor.
func (e *Endpoint) Descriptor() (vendorclient.Descriptor, error) {
	return vendorclient.Lookup(e.Vendor)
}

// Kind says whether the endpoint takes records or SMS (0 for a vendor
// nobody registered; a loaded config has none).
func (e *Endpoint) Kind() vendorclient.Kind {
	d, err := e.Descriptor()
	if err != nil {
		return 0
	}
	return d.Kind
}

// IsSMS reports whether the endpoint sends SMS (sms:send) rather than records.
func (e *Endpoint) IsSMS() bool { return e.Kind() == vendorclient.KindSMS }

// Secrets returns the values of the endpoint's secret credentials, for
// scrubbing them from logs and errors.
func (e *Endpoint) Secrets() []string {
	d, err := e.Descriptor()
	if err != nil {
		return nil
	}
	return d.Secrets(e.Credentials)
}

// Retries returns max_retry or its default.
func (e *Endpoint) Retries() int {
	if e.MaxRetry == nil {
		return DefaultMaxRetry
	}
	return *e.MaxRetry
}

// Role says what the loading process does with the config, and so which
// keys it needs.
type Role int

const (
	// RoleWorker (the zero value) calls vendors: every required credential
	// must be given, and every ${VAR} set.
	RoleWorker Role = iota
	// RoleProducer only enqueues (`enqueue`, `worker --api-only`): it needs
	// `redis` and each endpoint's `vendor` (plus optional tuning). A missing
	// credential is no error, nor is a credential whose ${VAR} is unset
	// (that credential is left out). Everything else is checked as for a
	// worker: unknown keys and vendors, bad values, other unset variables.
	RoleProducer
)

// String returns "worker" or "producer".
func (r Role) String() string {
	if r == RoleProducer {
		return "producer"
	}
	return "worker"
}

// Options are the overrides that come from outside the file.
type Options struct {
	Path     string // --config; "" = $VENDORQ_CONFIG, then DefaultPath
	RedisURL string // --redis; beats $REDIS_URL, which beats the file
	Getenv   func(string) string
	Role     Role // zero = RoleWorker: credentials required
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
	cfg, err := ParseRole(raw, opts.Getenv, opts.Role)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.applyRedisOverrides(opts)
	return cfg, nil
}

// Parse decodes YAML text, expanding ${VAR} in values with getenv, for a
// worker (RoleWorker).
func Parse(raw []byte, getenv func(string) string) (*Config, error) {
	return ParseRole(raw, getenv, RoleWorker)
}

// ParseRole is Parse for the given role.
func ParseRole(raw []byte, getenv func(string) string, role Role) (*Config, error) {
	cfg, err := decode(raw, getenv, role)
	if err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	if err := cfg.validate(role); err != nil {
		return nil, err
	}
	return cfg, nil
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
