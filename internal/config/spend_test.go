package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const smsEndpoint = "endpoints:\n  sms:\n    vendor: caihcom\n    appkey: a\n    app_id: b\n    auth_token: t\n"

// The contract of SPEC §3.9 / README "Configuration", block and flow forms.
func TestSpendKeysOnAnSMSEndpoint(t *testing.T) {
	for _, raw := range []string{
		smsEndpoint + "    phone_limits: {per_minute: 1, per_hour: 5, per_day: 10}\n    daily_budget: 20000\n",
		smsEndpoint + "    phone_limits:\n      per_minute: 1\n      per_hour: 5\n      per_day: 10\n    daily_budget: 20000\n",
	} {
		cfg, err := Parse([]byte(raw), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		e := cfg.Endpoints["sms"]
		if e.PhoneLimits != (PhoneLimits{PerMinute: 1, PerHour: 5, PerDay: 10}) || e.DailyBudget != 20000 {
			t.Fatalf("limits %+v budget %d", e.PhoneLimits, e.DailyBudget)
		}
	}
	cfg, err := Parse([]byte(smsEndpoint+"    phone_limits: {per_day: 3}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Endpoints["sms"]; e.PhoneLimits != (PhoneLimits{PerDay: 3}) || e.DailyBudget != 0 {
		t.Fatalf("a limit left out must stay off: %+v budget %d", e.PhoneLimits, e.DailyBudget)
	}
}

func TestSpendKeysErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"phone_limits on a record endpoint",
			"endpoints:\n  forms:\n    vendor: baibaoyun\n    api_key: k\n    phone_limits: {per_minute: 1}\n",
			`line 5: endpoints.forms.phone_limits: only SMS endpoints take phone_limits (baibaoyun is a record vendor)`},
		{"daily_budget on a record endpoint, flow form",
			"endpoints:\n  t: {vendor: yesapi, app_key: k, app_secret: s, daily_budget: 100}\n",
			`line 2: endpoints.t.daily_budget: only SMS endpoints take daily_budget (yesapi is a record vendor)`},
		{"zero", smsEndpoint + "    phone_limits: {per_minute: 0}\n",
			`endpoints.sms.phone_limits.per_minute (line 7): "0" must be a whole number from 1 to 1000000000`},
		{"negative", smsEndpoint + "    daily_budget: -5\n",
			`endpoints.sms.daily_budget (line 7): "-5" must be a whole number`},
		{"fraction", smsEndpoint + "    phone_limits:\n      per_hour: 2.5\n",
			`endpoints.sms.phone_limits.per_hour (line 8): "2.5" must be a whole number`},
		{"not a number", smsEndpoint + "    daily_budget: lots\n",
			`endpoints.sms.daily_budget (line 7): "lots" must be a whole number`},
		{"too large", smsEndpoint + "    daily_budget: 99999999999\n",
			`endpoints.sms.daily_budget (line 7): "99999999999" must be a whole number`},
		{"unknown window", smsEndpoint + "    phone_limits: {per_second: 1}\n",
			`line 7: endpoints.sms.phone_limits.per_second: unknown key "per_second" in endpoints.sms.phone_limits (known: per_day, per_hour, per_minute)`},
		{"empty phone_limits", smsEndpoint + "    phone_limits: {}\n",
			`line 7: endpoints.sms.phone_limits: give per_minute, per_hour and/or per_day`},
		{"null phone_limits", smsEndpoint + "    phone_limits:\n",
			`line 7: endpoints.sms.phone_limits: give per_minute, per_hour and/or per_day`},
		{"phone_limits not a mapping", smsEndpoint + "    phone_limits: 5\n",
			"yaml: unmarshal errors:\n  line 7: endpoints.sms.phone_limits: cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), env(nil))
			if !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "config: "+c.want) {
				t.Fatalf("error %v\nwant it to start with config: %s", err, c.want)
			}
		})
	}
}

// A record endpoint's list of known keys does not offer the SMS-only ones;
// an SMS endpoint's does.
func TestSpendKeysInTheKnownList(t *testing.T) {
	_, err := Parse([]byte(smsEndpoint+"    budget: 5\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "daily_budget") || !strings.Contains(err.Error(), "phone_limits") {
		t.Fatalf("error %v does not list the SMS keys", err)
	}
	_, err = Parse([]byte("endpoints:\n  f: {vendor: baibaoyun, api_key: k, budget: 5}\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "daily_budget") {
		t.Fatalf("error %v offers an SMS-only key to a record endpoint", err)
	}
}

// The example file documents the keys commented out; uncommented, they
// are valid where they stand.
func TestExampleSpendKeysUncommented(t *testing.T) {
	raw, err := os.ReadFile("../../vendorq.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, k := range []string{"phone_limits:", "daily_budget:"} {
		if !strings.Contains(s, "    # "+k) {
			t.Fatalf("vendorq.example.yaml does not document %s", k)
		}
		s = strings.Replace(s, "    # "+k, "    "+k, 1)
	}
	cfg, err := Parse([]byte(s), func(k string) string { return "value-of-" + k })
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Endpoints["sms"]; e.PhoneLimits != (PhoneLimits{PerMinute: 1, PerHour: 5, PerDay: 10}) || e.DailyBudget != 20000 {
		t.Fatalf("limits %+v budget %d", e.PhoneLimits, e.DailyBudget)
	}
}
