package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/vendorclient"
)

// A vendor registered only here: the config learns its defaults, its kind
// and its credential keys from the descriptor alone.
func init() {
	vendorclient.Register(vendorclient.Descriptor{
		Name: "cfgfake", Kind: vendorclient.KindSMS,
		DefaultBaseURL: "http://fake.invalid", DefaultRate: 3,
		Credentials: []vendorclient.Credential{
			{Key: "fake_key", Required: true, Secret: true},
			{Key: "fake_region"},
		},
		New: func(vendorclient.Settings) (vendorclient.Client, error) { return vendorclient.Client{}, nil },
	})
}

func TestRegisteredVendorDrivesTheEndpoint(t *testing.T) {
	cfg, err := Parse([]byte("endpoints:\n  x:\n    vendor: cfgfake\n    fake_key: ${FAKE_KEY}\n"), env(map[string]string{"FAKE_KEY": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.Endpoints["x"]
	if x.BaseURL != "http://fake.invalid" || x.Rate != 3 || x.Timeout != vendorclient.DefaultTimeout || !x.IsSMS() {
		t.Fatalf("defaults not from the descriptor: %+v", x)
	}
	if got := x.Credentials; len(got) != 1 || got["fake_key"] != "s3cret" {
		t.Fatalf("credentials %v", got)
	}
	if s := x.Secrets(); len(s) != 1 || s[0] != "s3cret" {
		t.Fatalf("secrets %v", s)
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if got := fmt.Sprintf(verb, x); strings.Contains(got, "s3cret") || !strings.Contains(got, "fake_key:***") {
			t.Errorf("%s of an endpoint shows %s", verb, got)
		}
	}
}

func TestRegisteredVendorErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"its required key", "endpoints:\n  x: {vendor: cfgfake, fake_region: eu}\n", "endpoints.x.fake_key: required for vendor cfgfake"},
		{"another vendor's key", "endpoints:\n  x: {vendor: cfgfake, fake_key: k, api_key: k}\n", `line 2: endpoints.x.api_key: unknown key "api_key" in a cfgfake endpoint`},
		{"listed among the known", "endpoints:\n  x: {vendor: nope}\n", "cfgfake"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), env(nil))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not say %q", err, c.want)
			}
		})
	}
}

// Base URLs are written once, in vendorclient: the config's default is the
// descriptor's.
func TestDefaultsComeFromTheDescriptor(t *testing.T) {
	cfg, err := Parse([]byte("endpoints:\n  f: {vendor: baibaoyun, api_key: k}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d, err := vendorclient.Lookup("baibaoyun")
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Endpoints["f"]
	if f.BaseURL != d.DefaultBaseURL || f.Rate != d.DefaultRate || f.Kind() != vendorclient.KindRecord {
		t.Fatalf("forms %+v, descriptor %+v", f, d)
	}
}
