package workercli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/itest"
)

// Every usage error exits 2 (the README's exit codes), before anything is
// started: an argument, a flag, a flag's value, the config.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	cfg := itest.WriteConfig(t, dir, "redis://127.0.0.1:1/0", "http://127.0.0.1:1", nil)
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"extra-arg"}, `unknown command "extra-arg" for "worker"`},
		{[]string{"--config", cfg, "serve"}, `unknown command "serve" for "worker"`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--dev=maybe"}, "--dev"},
		{[]string{"--api-max-in-flight", "x"}, "--api-max-in-flight"},
		{[]string{"--config", cfg, "--log-level", "loud"}, "--log-level"},
		{[]string{"--config", cfg, "--log-format", "xml"}, "--log-format"},
		{[]string{"--config", dir + "/missing.yaml"}, "missing.yaml"},
		{[]string{"--config", cfg, "--redis", "nope://x"}, "scheme"},
	}
	for _, c := range cases {
		var out, errb itest.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := Main(ctx, c.args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		cancel()
		if code != cliexit.Usage || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d (want 2), stderr %q (want %q)", c.args, code, errb.String(), c.msg)
		}
	}
}
