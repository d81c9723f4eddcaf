// Package vendorsim is a faithful, in-process simulator of the four vendor
// APIs (docs/vendors.md): baibaoyun, yesapi, dhgjcloud and caihcom on one address.
// It enforces each vendor's documented auth, signatures and limits, lets a
// test inject any documented code, latency or an outage per target, and
// counts what it received (calls, accepted, duplicates by idempotency data,
// codes returned, the busiest 1-second window).
//
// cmd/vendorsim serves it; tests start it with httptest.NewServer(sim.New(cfg)).
package vendorsim

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Targets, one per vendor.
const (
	TargetBaibaoyun = "baibaoyun"
	TargetYesapi    = "yesapi"
	TargetDhgjcloud = "dhgjcloud"
	TargetCaihcom   = "caihcom"
)

// Targets lists every target name.
var Targets = []string{TargetBaibaoyun, TargetYesapi, TargetDhgjcloud, TargetCaihcom}

// Config holds the simulated accounts. Zero values get the defaults of
// DefaultConfig field by field.
type Config struct {
	Baibaoyun BaibaoyunConfig `json:"baibaoyun"`
	Yesapi    YesapiConfig    `json:"yesapi"`
	Dhgjcloud DhgjcloudConfig `json:"dhgjcloud"`
	Caihcom   CaihcomConfig   `json:"caihcom"`
	// Now is the clock (tests may fake it); nil = time.Now.
	Now func() time.Time `json:"-"`
}

// BaibaoyunConfig is one baibaoyun account.
type BaibaoyunConfig struct {
	APIKey string `json:"api_key"`
	Rate   int    `json:"rate"` // calls per any 1-second window before 4004 (default 5)
}

// YesapiConfig is one yesapi app.
type YesapiConfig struct {
	AppKey      string `json:"app_key"`
	AppSecret   string `json:"app_secret"`
	MaxInFlight int    `json:"max_in_flight"` // concurrent calls before ret 414 (default 8)
}

// DhgjcloudConfig is one dhgjcloud client.
type DhgjcloudConfig struct {
	ClientID     string        `json:"client_id"`
	ClientSecret string        `json:"client_secret"`
	TokenTTL     time.Duration `json:"token_ttl"` // default 7 days
	Rate         int           `json:"rate"`      // calls per any 1-second window before HTTP 429 (default 20)
}

// CaihcomConfig is one caihcom account.
type CaihcomConfig struct {
	AppKey    string   `json:"appkey"`
	AppID     string   `json:"app_id"`
	AuthToken string   `json:"auth_token"`
	Balance   int      `json:"balance"`    // messages left before 8401; <0 = unlimited (default -1)
	BadPhones []string `json:"bad_phones"` // phones the gateway rejects permanently
}

// DefaultConfig returns the demo accounts used by `worker --dev` and tests.
func DefaultConfig() Config {
	return Config{
		Baibaoyun: BaibaoyunConfig{APIKey: "sim-baibaoyun-key", Rate: 5},
		Yesapi:    YesapiConfig{AppKey: "16BD4337FB1D355902E0502AFCBFD4DF", AppSecret: "sim-yesapi-secret", MaxInFlight: 8},
		Dhgjcloud: DhgjcloudConfig{ClientID: "sim-client", ClientSecret: "sim-client-secret", TokenTTL: 7 * 24 * time.Hour, Rate: 20},
		Caihcom:   CaihcomConfig{AppKey: "6416b416c30b32fb306c26b7c8acbf69", AppID: "6416b416c30b32fb306c26b7c8acbf6", AuthToken: "be737f12cfdf311ac048efc3f1b94eb1", Balance: -1},
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.Baibaoyun.APIKey == "" {
		c.Baibaoyun.APIKey = d.Baibaoyun.APIKey
	}
	if c.Baibaoyun.Rate == 0 {
		c.Baibaoyun.Rate = d.Baibaoyun.Rate
	}
	if c.Yesapi.AppKey == "" {
		c.Yesapi.AppKey = d.Yesapi.AppKey
	}
	if c.Yesapi.AppSecret == "" {
		c.Yesapi.AppSecret = d.Yesapi.AppSecret
	}
	if c.Yesapi.MaxInFlight == 0 {
		c.Yesapi.MaxInFlight = d.Yesapi.MaxInFlight
	}
	if c.Dhgjcloud.ClientID == "" {
		c.Dhgjcloud.ClientID = d.Dhgjcloud.ClientID
	}
	if c.Dhgjcloud.ClientSecret == "" {
		c.Dhgjcloud.ClientSecret = d.Dhgjcloud.ClientSecret
	}
	if c.Dhgjcloud.TokenTTL == 0 {
		c.Dhgjcloud.TokenTTL = d.Dhgjcloud.TokenTTL
	}
	if c.Dhgjcloud.Rate == 0 {
		c.Dhgjcloud.Rate = d.Dhgjcloud.Rate
	}
	if c.Caihcom.AppKey == "" {
		c.Caihcom.AppKey = d.Caihcom.AppKey
	}
	if c.Caihcom.AppID == "" {
		c.Caihcom.AppID = d.Caihcom.AppID
	}
	if c.Caihcom.AuthToken == "" {
		c.Caihcom.AuthToken = d.Caihcom.AuthToken
	}
	if c.Caihcom.Balance == 0 {
		c.Caihcom.Balance = d.Caihcom.Balance
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	cfg Config
	mux *http.ServeMux

	mu     sync.Mutex
	faults map[string]*Fault
	stats  map[string]*targetStats

	// vendor state, guarded by mu
	bbyWindow   *window
	dhgjWindow  *window
	yesInFlight int
	dhgjToken   string
	dhgjExpiry  time.Time
	dhgjTTL     time.Duration // SetDhgjTokenTTL; 0 = cfg.Dhgjcloud.TokenTTL
	caihBalance int
}

// New returns a simulator for cfg (zero fields take DefaultConfig values).
func New(cfg Config) *Sim {
	cfg.fillDefaults()
	s := &Sim{cfg: cfg, mux: http.NewServeMux()}
	s.resetLocked()
	s.mux.HandleFunc("POST /api/v1/app/{app}/entry/{entry}/data_create", s.handleBaibaoyun)
	s.mux.HandleFunc("POST /{$}", s.handleYesapi)
	s.mux.HandleFunc("POST /oauth/token", s.handleDhgjToken)
	s.mux.HandleFunc("POST /rest/sms/v1/smsService/singleSubmit", s.handleCaihcom)
	s.mux.HandleFunc("GET /_sim/stats", s.handleStats)
	s.mux.HandleFunc("POST /_sim/faults", s.handleSetFaults)
	s.mux.HandleFunc("DELETE /_sim/faults", s.handleClearFaults)
	s.mux.HandleFunc("POST /_sim/reset", s.handleReset)
	s.mux.HandleFunc("/", s.handleDhgjCall) // dhgjcloud business paths are the task's table
	return s
}

// Config returns the effective configuration (with defaults filled in).
func (s *Sim) Config() Config { return s.cfg }

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Sim) now() time.Time { return s.cfg.Now() }

// Reset clears faults, statistics and vendor state (tokens, balance, windows).
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Sim) resetLocked() {
	s.faults = map[string]*Fault{}
	s.stats = map[string]*targetStats{}
	for _, t := range Targets {
		s.stats[t] = newTargetStats()
	}
	s.bbyWindow = newWindow(time.Second)
	s.dhgjWindow = newWindow(time.Second)
	s.yesInFlight = 0
	s.dhgjToken, s.dhgjExpiry = "", time.Time{}
	s.caihBalance = s.cfg.Caihcom.Balance
}

// SetCaihcomBalance sets the number of messages left (<0 = unlimited).
func (s *Sim) SetCaihcomBalance(n int) {
	s.mu.Lock()
	s.caihBalance = n
	s.mu.Unlock()
}

// ExpireDhgjToken makes the current dhgjcloud token invalid, as its expiry would.
func (s *Sim) ExpireDhgjToken() {
	s.mu.Lock()
	s.dhgjToken = ""
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
