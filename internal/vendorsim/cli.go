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
	"time"

	"github.com/spf13/cobra"
)

// Main is the vendorsim command: it serves the simulator on --addr until ctx
// ends and returns the exit code (0 ok, 1 runtime failure, 2 usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var addr, cfgPath string
	var printCfg bool
	cmd := &cobra.Command{
		Use:   "vendorsim [--addr 127.0.0.1:9000] [--config sim.json]",
		Short: "Serve a faithful simulator of the four vendor APIs on one address",
		Long: `vendorsim serves baibaoyun, yesapi, dhgjcloud and caihcom on one address, with
their documented auth, signatures and limits. Point an endpoint's base_url at it.

  POST /_sim/faults  {"baibaoyun":{"code":"4004","times":3},"caihcom":{"latency":2000000000}}
  DELETE /_sim/faults, POST /_sim/reset, GET /_sim/stats

--print-config shows the simulated accounts (credentials to put in vendorq.yaml);
--config loads your own (same JSON shape; missing fields keep the defaults).`,
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
