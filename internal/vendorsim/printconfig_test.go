package vendorsim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// --print-vendorq-config prints a config the worker accepts as it is: the
// four endpoints the README uses, each at the simulator on --addr with the
// simulator's (here: custom) credentials.
func TestPrintVendorqConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sim.json")
	if err := os.WriteFile(p, []byte(`{"baibaoyun":{"api_key":"my \"quoted\" key: #1","rate":7},"caihcom":{"auth_token":"tok"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		":9100":          "http://127.0.0.1:9100",
		"0.0.0.0:9200":   "http://127.0.0.1:9200",
		"[::]:9300":      "http://127.0.0.1:9300",
		"[::1]:9400":     "http://[::1]:9400",
		"localhost:9500": "http://localhost:9500",
	} {
		var out, errb bytes.Buffer
		if code := vendorsim.Main(context.Background(), []string{"--config", p, "--addr", addr, "--print-vendorq-config"}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d %s", addr, code, errb.String())
		}
		cfg, err := config.Parse(out.Bytes(), func(string) string { return "" })
		if err != nil {
			t.Fatalf("%s: %v\n%s", addr, err, out.String())
		}
		vendors := map[string]string{}
		for name, ep := range cfg.Endpoints {
			vendors[name] = ep.Vendor
			wantBase := want
			if ep.Vendor == "yesapi" {
				wantBase += "/"
			}
			if ep.BaseURL != wantBase {
				t.Errorf("%s: %s base_url %q, want %q", addr, name, ep.BaseURL, wantBase)
			}
		}
		if len(vendors) != 4 || vendors["forms"] != "baibaoyun" || vendors["tables"] != "yesapi" || vendors["gjy"] != "dhgjcloud" || vendors["sms"] != "caihcom" {
			t.Fatalf("%s: endpoints %v", addr, vendors)
		}
		d := vendorsim.DefaultConfig()
		f, s, g, tb := cfg.Endpoints["forms"], cfg.Endpoints["sms"], cfg.Endpoints["gjy"], cfg.Endpoints["tables"]
		if f.Credentials["api_key"] != `my "quoted" key: #1` || f.Rate != 7 ||
			s.Credentials["auth_token"] != "tok" || s.Credentials["appkey"] != d.Caihcom.AppKey || s.Credentials["app_id"] != d.Caihcom.AppID ||
			g.Credentials["client_id"] != d.Dhgjcloud.ClientID || g.Credentials["client_secret"] != d.Dhgjcloud.ClientSecret ||
			tb.Credentials["app_key"] != d.Yesapi.AppKey || tb.Credentials["app_secret"] != d.Yesapi.AppSecret {
			t.Fatalf("%s: credentials %+v %+v %+v %+v", addr, f, s, g, tb)
		}
	}
}

func TestPrintVendorqConfigUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--print-vendorq-config", "--addr", "127.0.0.1:0"},
		{"--print-vendorq-config", "--addr", "127.0.0.1"},
		{"--print-vendorq-config", "--print-config"},
	} {
		var out, errb bytes.Buffer
		if code := vendorsim.Main(context.Background(), args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "vendorsim:") || out.Len() != 0 {
			t.Fatalf("%v: exit %d out %q err %q", args, code, out.String(), errb.String())
		}
	}
}
