package vendorclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/internal/keys"
)

func TestShippedVendorsAreRegistered(t *testing.T) {
	if got := strings.Join(Vendors(), ","); got != "baibaoyun,caihcom,dhgjcloud,yesapi" {
		t.Fatalf("vendors %s", got)
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownVendor) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown vendor: %v", err)
	}
}

// Every shipped descriptor builds its client from its declared credentials
// alone, of the kind it declares.
func TestShippedDescriptorsBuildTheirClients(t *testing.T) {
	rdb := testRedis.Client(t, testRedis.FreshDB(t))
	for _, name := range Vendors() {
		t.Run(name, func(t *testing.T) {
			d, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(d.DefaultBaseURL, "http") || d.DefaultRate <= 0 {
				t.Fatalf("defaults %q %v", d.DefaultBaseURL, d.DefaultRate)
			}
			creds := map[string]string{}
			for _, c := range d.Credentials {
				creds[c.Key] = "value-of-" + c.Key
			}
			c, err := d.New(Settings{Endpoint: "ep", Credentials: creds, Redis: rdb, KeyPrefix: keys.VendorPrefix("ep")})
			if err != nil {
				t.Fatal(err)
			}
			if (d.Kind == KindRecord) != (c.Records != nil) || (d.Kind == KindSMS) != (c.SMS != nil) {
				t.Fatalf("kind %v built %+v", d.Kind, c)
			}
			if d.Kind == KindRecord && d.TableForm == "" {
				t.Fatal("a record vendor says what its table is")
			}
		})
	}
}

// A missing required credential is the constructor's error, not a client
// with an empty key (and never a typed nil in Client.Records).
func TestDescriptorNewWithoutCredentials(t *testing.T) {
	for _, name := range []string{VendorBaibaoyun, VendorYesapi, VendorCaihcom} {
		d, _ := Lookup(name)
		c, err := d.New(Settings{})
		if err == nil || c.Records != nil || c.SMS != nil {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
	}
}

// The worker passes keys.VendorPrefix: dhgjcloud's token stays at the key
// it always had, so an upgrade finds the token every process shares.
func TestDhgjcloudTokenKeyUnchanged(t *testing.T) {
	if got, want := keys.VendorPrefix("gjy")+dhgjTokenSuffix, keys.DhgjToken("gjy"); got != want || want != "vq:{gjy}:dhgj:token" {
		t.Fatalf("token key %q, want %q", got, want)
	}
}

func TestTableFormsNameEveryRecordVendor(t *testing.T) {
	want := "APP_ID/ENTRY_ID (baibaoyun), an API path (dhgjcloud) or a model_name (yesapi)"
	if got := TableForms(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSecretsAreTheSecretCredentials(t *testing.T) {
	d, _ := Lookup(VendorDhgjcloud)
	got := d.Secrets(map[string]string{"client_id": "public", "client_secret": "hidden", "scope": "all"})
	if len(got) != 1 || got[0] != "hidden" {
		t.Fatalf("secrets %v", got)
	}
	if c, ok := d.Credential("client_secret"); !ok || !c.Required || !c.Secret {
		t.Fatalf("client_secret %+v %v", c, ok)
	}
}

func TestCheckTable(t *testing.T) {
	cases := []struct {
		vendor, table string
		ok            bool
	}{
		{VendorBaibaoyun, "app/entry", true},
		{VendorBaibaoyun, "app/entry/x", false},
		{VendorBaibaoyun, "app /entry", false},
		{VendorYesapi, "okayapi_message", true},
		{VendorYesapi, strings.Repeat("m", 65), false},
		{VendorDhgjcloud, "api/records", true},
		{VendorDhgjcloud, "/api/../x", false},
		{VendorDhgjcloud, "/api?x=1", false},
	}
	for _, c := range cases {
		d, _ := Lookup(c.vendor)
		if err := d.CheckTable(c.table); (err == nil) != c.ok {
			t.Errorf("%s %q: %v, want ok=%v", c.vendor, c.table, err, c.ok)
		}
	}
	if err := (Descriptor{}).CheckTable(""); err == nil {
		t.Error("a vendor without a rule still wants a table")
	}
}

func TestRegisterRefusesProgrammingErrors(t *testing.T) {
	newFn := func(Settings) (Client, error) { return Client{}, nil }
	cases := map[string]Descriptor{
		"no name":    {Kind: KindRecord, New: newFn},
		"no kind":    {Name: "regtest-nokind", New: newFn},
		"no New":     {Name: "regtest-nonew", Kind: KindSMS},
		"twice":      {Name: VendorBaibaoyun, Kind: KindRecord, New: newFn},
		"cred twice": {Name: "regtest-dup", Kind: KindSMS, New: newFn, Credentials: []Credential{{Key: "k"}, {Key: "k"}}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Register(d)
		})
	}
}
