package vendorclient

import (
	"fmt"
	"regexp"
	"strings"
)

// The four vendors vendorq ships with. Each descriptor says what the rest
// of vendorq needs to know (defaults, credentials, table form) and builds
// its client from the exported constructor in the vendor's own file.

func init() {
	Register(baibaoyunVendor)
	Register(yesapiVendor)
	Register(dhgjcloudVendor)
	Register(caihcomVendor)
}

var baibaoyunVendor = Descriptor{
	Name: VendorBaibaoyun, Kind: KindRecord,
	DefaultBaseURL: baibaoyunDefaultBase, DefaultRate: 5,
	TableForm:     "APP_ID/ENTRY_ID",
	Credentials:   []Credential{{Key: "api_key", Required: true, Secret: true}},
	ValidateTable: validateBaibaoyunTable,
	New: func(s Settings) (Client, error) {
		return records(NewBaibaoyun(BaibaoyunConfig{
			BaseURL: s.BaseURL, APIKey: s.Credentials["api_key"], HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

var yesapiVendor = Descriptor{
	Name: VendorYesapi, Kind: KindRecord,
	DefaultBaseURL: yesapiDefaultBase, DefaultRate: 10,
	TableForm: "a model_name",
	Credentials: []Credential{
		// The app key names the account: the client scrubs it like the secret.
		{Key: "app_key", Required: true, Secret: true},
		{Key: "app_secret", Required: true, Secret: true},
	},
	ValidateTable: validateYesapiTable,
	New: func(s Settings) (Client, error) {
		return records(NewYesapi(YesapiConfig{
			BaseURL: s.BaseURL, AppKey: s.Credentials["app_key"], AppSecret: s.Credentials["app_secret"],
			HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

// dhgjTokenSuffix names the shared token under Settings.KeyPrefix; with the
// worker's prefix it is internal/keys.DhgjToken ("vq:{gjy}:dhgj:token").
const dhgjTokenSuffix = "dhgj:token"

var dhgjcloudVendor = Descriptor{
	Name: VendorDhgjcloud, Kind: KindRecord,
	DefaultBaseURL: DhgjcloudDefaultBaseURL, DefaultRate: 10,
	TableForm: "an API path",
	Credentials: []Credential{
		{Key: "client_id", Required: true},
		{Key: "client_secret", Required: true, Secret: true},
		{Key: "scope"},
	},
	ValidateTable: validateDhgjcloudTable,
	New: func(s Settings) (Client, error) {
		return records(NewDhgjcloud(DhgjcloudConfig{
			BaseURL: s.BaseURL, ClientID: s.Credentials["client_id"], ClientSecret: s.Credentials["client_secret"],
			Scope: s.Credentials["scope"], Redis: s.Redis, TokenKey: s.KeyPrefix + dhgjTokenSuffix,
			HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		}))
	},
}

var caihcomVendor = Descriptor{
	Name: VendorCaihcom, Kind: KindSMS,
	DefaultBaseURL: caihcomDefaultBase, DefaultRate: 10,
	Credentials: []Credential{
		{Key: "appkey", Required: true},
		{Key: "app_id", Required: true},
		{Key: "auth_token", Required: true, Secret: true},
	},
	New: func(s Settings) (Client, error) {
		c, err := NewCaihcom(CaihcomConfig{
			BaseURL: s.BaseURL, AppKey: s.Credentials["appkey"], AppID: s.Credentials["app_id"],
			AuthToken: s.Credentials["auth_token"], HTTPClient: s.HTTPClient, Timeout: s.Timeout,
		})
		if err != nil {
			return Client{}, err
		}
		return Client{SMS: c}, nil
	},
}

// records wraps a record constructor's result, so that a failed
// constructor never leaves a typed nil in Client.Records.
func records[C RecordCreator](c C, err error) (Client, error) {
	if err != nil {
		return Client{}, err
	}
	return Client{Records: c}, nil
}

// The producer-side table checks below are stricter than what each client
// refuses at call time: a task that would be refused is never enqueued.

var (
	yesapiModelRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	dhgjPathRe    = regexp.MustCompile(`^/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$`)
)

func validateBaibaoyunTable(table string) error {
	app, entry, ok := strings.Cut(table, "/")
	if !ok || app == "" || entry == "" || strings.Contains(entry, "/") || strings.ContainsAny(table, " ?#") {
		return fmt.Errorf("wants APP_ID/ENTRY_ID, got %q", table)
	}
	return nil
}

func validateYesapiTable(table string) error {
	if !yesapiModelRe.MatchString(table) {
		return fmt.Errorf("wants a model_name of letters, digits and _, got %q", table)
	}
	return nil
}

func validateDhgjcloudTable(table string) error {
	if !dhgjPathRe.MatchString(table) || strings.Contains(table, "..") {
		return fmt.Errorf("wants an API path like /api/records, got %q", table)
	}
	return nil
}
