// Package devdemo is what `worker --dev` runs against: a demo config whose
// four endpoints (one per vendor) point at the in-process vendor simulator,
// and a generator that keeps demo tasks flowing — a baibaoyun backlog under
// its 5/s limit, occasional "too fast" answers that slow an endpoint down,
// a quota pause, and tasks that end in the dead-letter queue — so that the
// dashboard, the dead-letter view and the metrics all have something to show.
package devdemo

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// BadPhone is refused permanently by the demo simulator, so that an SMS to
// it ends in the dead-letter queue.
const BadPhone = "13900000404"

// Demo endpoint names.
const (
	EndpointForms  = "forms"  // baibaoyun, 5/s: the backlog
	EndpointTables = "tables" // yesapi
	EndpointGJY    = "gjy"    // dhgjcloud
	EndpointSMS    = "sms"    // caihcom
)

// Endpoints lists the demo endpoints.
var Endpoints = []string{EndpointForms, EndpointGJY, EndpointSMS, EndpointTables}

// SimConfig is the simulator's demo accounts (vendorsim.DefaultConfig) with
// BadPhone refused by the SMS gateway.
func SimConfig() vendorsim.Config {
	c := vendorsim.DefaultConfig()
	c.Caihcom.BadPhones = []string{BadPhone}
	return c
}

var configText = template.Must(template.New("vendorq.yaml").Parse(`# worker --dev: every endpoint points at the built-in vendor simulator.
endpoints:
  forms:
    vendor: baibaoyun
    base_url: {{.Sim}}
    api_key: "{{.Acct.Baibaoyun.APIKey}}"
    rate: 5
    burst: 1
    concurrency: 4
  tables:
    vendor: yesapi
    base_url: {{.Sim}}/
    app_key: "{{.Acct.Yesapi.AppKey}}"
    app_secret: "{{.Acct.Yesapi.AppSecret}}"
    rate: 10
    concurrency: 4
  gjy:
    vendor: dhgjcloud
    base_url: {{.Sim}}
    client_id: "{{.Acct.Dhgjcloud.ClientID}}"
    client_secret: "{{.Acct.Dhgjcloud.ClientSecret}}"
    rate: 10
    concurrency: 4
  sms:
    vendor: caihcom
    base_url: {{.Sim}}
    appkey: "{{.Acct.Caihcom.AppKey}}"
    app_id: "{{.Acct.Caihcom.AppID}}"
    auth_token: "{{.Acct.Caihcom.AuthToken}}"
    rate: 10
    concurrency: 4
    max_retry: 3
    quota_pause: 10s
`))

// ConfigYAML returns the demo config's endpoints for a simulator at simURL
// (http://HOST:PORT, from a loopback listener: nothing in it needs quoting).
func ConfigYAML(simURL string) (string, error) {
	var buf bytes.Buffer
	err := configText.Execute(&buf, struct {
		Sim  string
		Acct vendorsim.Config
	}{simURL, SimConfig()})
	if err != nil {
		return "", fmt.Errorf("devdemo: config: %w", err)
	}
	return buf.String(), nil
}

// Config returns the parsed demo config on Redis at redisURL. The URL is set
// after parsing, so that no character of it can upset the YAML.
func Config(simURL, redisURL string) (*config.Config, error) {
	text, err := ConfigYAML(simURL)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse([]byte(text), func(string) string { return "" })
	if err != nil {
		return nil, fmt.Errorf("devdemo: config: %w", err)
	}
	cfg.Redis.URL = redisURL
	return cfg, nil
}
