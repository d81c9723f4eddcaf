package vendorsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Main is the vendorsim command: it serves the simulator on --addr until ctx
// ends and returns the exit code (0 ok, 1 runtime failure, 2 usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var addr, cfgPath string
	var printCfg, printVQ bool
	cmd := &cobra.Command{
		Use:   "vendorsim [--addr 127.0.0.1:9000] [--config sim.json] [--print-config | --print-vendorq-config]",
		Short: "Serve a faithful simulator of the four vendor APIs on one address",
		Long: `vendorsim serves baibaoyun, yesapi, dhgjcloud and caihcom on one address, with
their documented auth, signatures and limits. Point an endpoint's base_url at it.

  POST /_sim/faults  {"baibaoyun":{"code":"4004","times":3},"caihcom":{"latency":2000000000}}
  DELETE /_sim/faults, POST /_sim/reset, GET /_sim/stats

--print-vendorq-config prints a vendorq.yaml whose four endpoints (forms, tables,
gjy, sms) point at the simulator on --addr with its accounts' credentials:
  vendorsim --addr 127.0.0.1:9000 --print-vendorq-config > vendorq.yaml
--print-config shows the simulated accounts as JSON; --config loads your own
(same JSON shape; missing fields keep the defaults).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := DefaultConfig()
			if cfgPath != "" {
				b, err := os.ReadFile(cfgPath)
				if err != nil {
					return usageError{err}
				}
				cfg = Config{}
				if err := json.Unmarshal(b, &cfg); err != nil {
					return usageError{fmt.Errorf("%s: %w", cfgPath, err)}
				}
			}
			sim := New(cfg)
			if printCfg && printVQ {
				return usageError{errors.New("--print-config and --print-vendorq-config exclude each other")}
			}
			if printVQ {
				base, err := simBaseURL(addr)
				if err != nil {
					return usageError{err}
				}
				_, err = io.WriteString(stdout, VendorqConfigYAML(base, sim.Config()))
				return err
			}
			if printCfg {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(sim.Config())
			}
			ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
			if err != nil {
				return usageError{fmt.Errorf("--addr %s: %w", addr, err)}
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(stdout, "vendorsim listening on http://%s (stats: /_sim/stats)\n", ln.Addr())
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9000", "listen address")
	cmd.Flags().StringVar(&cfgPath, "config", "", "JSON file with the simulated accounts (default: the demo accounts)")
	cmd.Flags().BoolVar(&printCfg, "print-config", false, "print the effective accounts as JSON and exit")
	cmd.Flags().BoolVar(&printVQ, "print-vendorq-config", false, "print a vendorq.yaml pointing every endpoint at the simulator on --addr, with its credentials, and exit")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "vendorsim:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "vendorsim:", err)
		return 1
	}
}

type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// simBaseURL is the URL a worker uses to reach a simulator listening on addr:
// an unspecified host (":9000", "0.0.0.0:9000", "[::]:9000") is reached on
// loopback; a port is required (":0" would be a different one each run).
func simBaseURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %s: %w", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("--addr %s: --print-vendorq-config needs the port the simulator listens on (not 0)", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// VendorqConfigYAML returns a vendorq config whose endpoints forms
// (baibaoyun), tables (yesapi), gjy (dhgjcloud) and sms (caihcom) call the
// simulator at base (http://HOST:PORT) with the accounts of acct. Values are
// JSON-quoted, which YAML reads as double-quoted scalars.
func VendorqConfigYAML(base string, acct Config) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	fmt.Fprintf(&b, `# vendorq.yaml for the vendor simulator (vendorsim --print-vendorq-config).
# For the real vendors start from vendorq.example.yaml instead: no base_url
# (the defaults are the vendors' documented addresses), secrets from ${VAR}s.
redis:
  url: redis://127.0.0.1:6379/0          # $REDIS_URL overrides; --redis overrides both
endpoints:
  forms:
    vendor: baibaoyun
    base_url: %s
    api_key: %s
    rate: %d
  tables:
    vendor: yesapi
    base_url: %s
    app_key: %s
    app_secret: %s
    rate: 10
  gjy:
    vendor: dhgjcloud
    base_url: %s
    client_id: %s
    client_secret: %s
    rate: 10
  sms:
    vendor: caihcom
    base_url: %s
    appkey: %s
    app_id: %s
    auth_token: %s
    rate: 10
`, q(base), q(acct.Baibaoyun.APIKey), acct.Baibaoyun.Rate,
		q(base+"/"), q(acct.Yesapi.AppKey), q(acct.Yesapi.AppSecret),
		q(base), q(acct.Dhgjcloud.ClientID), q(acct.Dhgjcloud.ClientSecret),
		q(base), q(acct.Caihcom.AppKey), q(acct.Caihcom.AppID), q(acct.Caihcom.AuthToken))
	return b.String()
}
