package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// An unknown key is reported with its own dotted path and the line it is on,
// wherever it sits: at the start, middle or end of an endpoint, in a flow
// mapping, in a nested section or at the top level.
func TestUnknownKeyNamesItsKeyAndLine(t *testing.T) {
	example, err := os.ReadFile("../../vendorq.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, yaml, want string }{
		{"middle of a block endpoint (issue: line 9 blamed line 8)",
			strings.Replace(sample, "    rate: 5\n", "    rat: 5\n", 1),
			`line 9: endpoints.forms.rat: unknown key "rat" in a baibaoyun endpoint`},
		{"start of an endpoint, before its vendor",
			"endpoints:\n  f:\n    colour: red\n    vendor: baibaoyun\n    api_key: k\n",
			`line 3: endpoints.f.colour: unknown key "colour" in a baibaoyun endpoint`},
		{"end of a flow endpoint",
			strings.Replace(sample, "rate: 10, max_retry: 0 }", "rate: 10, max_retry: 0, zone: cn }", 1),
			`line 12: endpoints.gjy.zone: unknown key "zone" in a dhgjcloud endpoint`},
		{"another vendor's credential",
			"endpoints:\n  f: {vendor: baibaoyun, api_key: k, app_secret: s}\n",
			`line 2: endpoints.f.app_secret: unknown key "app_secret" in a baibaoyun endpoint`},
		{"nested section",
			"redis:\n  url: redis://x\n  db: 3\nendpoints:\n  f: {vendor: baibaoyun, api_key: k}\n",
			`line 3: redis.db: unknown key "db" in redis (known: url)`},
		{"top level, last line",
			"endpoints:\n  f: {vendor: baibaoyun, api_key: k}\nretention: 1h\n",
			`line 3: retention: unknown key "retention" at the top level (known: dedupe, endpoints, idle, redis, results)`},
		{"example file, line 29 (issue: blamed line 28 and sms.rate)",
			strings.Replace(string(example), "max_retry: 3", "max_retries: 3", 1),
			`line 29: endpoints.sms.max_retries: unknown key "max_retries" in a caihcom endpoint`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), func(k string) string { return "value-of-" + k })
			if !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "config: "+c.want) {
				t.Fatalf("error %v\nwant it to start with config: %s", err, c.want)
			}
		})
	}
}

func TestUnknownKeyListsTheVendorsKeys(t *testing.T) {
	_, err := Parse([]byte("endpoints:\n  f: {vendor: yesapi, app_key: k, app_secret: s, sekret: x}\n"), env(nil))
	want := "(known: app_key, app_secret, base_url, burst, concurrency, max_retry, quota_pause, rate, send_window, timeout, vendor)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("error %v\ndoes not end with %s", err, want)
	}
}

// A type error found by yaml.v3 itself keeps the file's line too.
func TestDecodeErrorKeepsTheLine(t *testing.T) {
	_, err := Parse([]byte("\n\nendpoints:\n  f:\n    vendor: baibaoyun\n    api_key: k\n    burst: [1]\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "line 7: endpoints.f.burst: cannot unmarshal") {
		t.Fatalf("error %v does not name line 7 and endpoints.f.burst", err)
	}
}

func TestEveryUnsetVariableInOneError(t *testing.T) {
	raw, err := os.ReadFile("../../vendorq.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(raw, env(map[string]string{"YESAPI_APP_KEY": "set"}))
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("want ErrConfig, got %v", err)
	}
	for _, want := range []string{
		"BAIBAOYUN_API_KEY (endpoints.forms.api_key, line 10)", "YESAPI_APP_SECRET (endpoints.tables.app_secret, line 16)",
		"DHGJ_CLIENT_ID", "DHGJ_CLIENT_SECRET", "CAIHCOM_APPKEY", "CAIHCOM_APP_ID", "CAIHCOM_AUTH_TOKEN (endpoints.sms.auth_token, line 27)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "YESAPI_APP_KEY") {
		t.Errorf("error %q names a variable that is set", err)
	}
}

func TestCredentialMustBeAString(t *testing.T) {
	_, err := Parse([]byte("endpoints:\n  f:\n    vendor: baibaoyun\n    api_key: [a, b]\n"), env(nil))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "line 4: endpoints.f.api_key: must be a string") {
		t.Fatalf("error %v", err)
	}
}
