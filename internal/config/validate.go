package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// applyDefaults fills what the file left out: the base URL and the rate from
// the vendor's descriptor, the rest from the Default* constants.
func (c *Config) applyDefaults() {
	if c.Dedupe.Window == 0 {
		c.Dedupe.Window = DefaultDedupeWindow
	}
	if c.Results.Retention == 0 {
		c.Results.Retention = DefaultResultRetention
	}
	for name, e := range c.Endpoints {
		if e == nil {
			continue
		}
		e.Name = name
		d, err := e.Descriptor()
		if err != nil {
			continue // validate names the unknown vendor
		}
		if e.BaseURL == "" {
			e.BaseURL = d.DefaultBaseURL
		}
		if e.Rate == 0 {
			e.Rate = d.DefaultRate
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

func (c *Config) validate(role Role) error {
	if len(c.Endpoints) == 0 {
		return fmt.Errorf("%w: endpoints: at least one endpoint is required", ErrConfig)
	}
	for _, name := range c.EndpointNames() {
		if err := validateEndpoint(name, c.Endpoints[name], role); err != nil {
			return err
		}
	}
	if c.Dedupe.Window < MinDedupeWindow {
		return fmt.Errorf("%w: dedupe.window: at least %v, got %v (a task whose acknowledgement was lost runs again 1-2 min later and must still find its done marker: docs/asynq-traps.md)",
			ErrConfig, MinDedupeWindow, c.Dedupe.Window)
	}
	if g := c.Idle.Grace; g != 0 && g < time.Second {
		return fmt.Errorf("%w: idle.grace: at least 1s, got %v", ErrConfig, g)
	}
	if b := c.Idle.SweepBudget; b != 0 && (b < 10 || b > 100000) {
		return fmt.Errorf("%w: idle.sweep_budget: between 10 and 100000 Redis commands/s, got %v", ErrConfig, b)
	}
	if c.Results.Retention < time.Minute {
		return fmt.Errorf("%w: results.retention: at least 1m, got %v", ErrConfig, c.Results.Retention)
	}
	return nil
}

// validateEndpoint checks one endpoint; its required credentials only for
// a process that calls vendors (RoleWorker).
func validateEndpoint(name string, e *Endpoint, role Role) error {
	at := "endpoints." + name
	if e == nil {
		return fmt.Errorf("%w: %s: is empty", ErrConfig, at)
	}
	if !tasks.ValidEndpoint(name) {
		return fmt.Errorf("%w: %s: endpoint names may use letters, digits, _ and - (at most 64)", ErrConfig, at)
	}
	d, err := e.Descriptor()
	if err != nil {
		return fmt.Errorf("%w: %s.vendor: unknown vendor %q (want one of %s)", ErrConfig, at, e.Vendor, strings.Join(vendorclient.Vendors(), ", "))
	}
	for _, cred := range d.Credentials {
		if role == RoleWorker && cred.Required && strings.TrimSpace(e.Credentials[cred.Key]) == "" {
			return fmt.Errorf("%w: %s.%s: required for vendor %s", ErrConfig, at, cred.Key, e.Vendor)
		}
	}
	switch {
	case e.BaseURL == "":
		return fmt.Errorf("%w: %s.base_url: required for vendor %s (it has no default)", ErrConfig, at, e.Vendor)
	case !strings.HasPrefix(e.BaseURL, "http://") && !strings.HasPrefix(e.BaseURL, "https://"):
		return fmt.Errorf("%w: %s.base_url: must start with http:// or https://", ErrConfig, at)
	}
	if err := e.SendWindow.validate(at + ".send_window"); err != nil {
		return err
	}
	return validateTuning(at, e)
}

func validateTuning(at string, e *Endpoint) error {
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
	return nil
}
