package vendorclient

import (
	"fmt"
	"regexp"
)

// Helpers the vendors' descriptors share. Each vendor registers its
// Descriptor from its own file (baibaoyun.go, yesapi.go, dhgjcloud.go,
// caihcom.go): what the rest of vendorq needs to know (defaults,
// credentials, table form) next to its protocol.

func init() {
	Register(yesapiVendor)
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
)

func validateYesapiTable(table string) error {
	if !yesapiModelRe.MatchString(table) {
		return fmt.Errorf("wants a model_name of letters, digits and _, got %q", table)
	}
	return nil
}
