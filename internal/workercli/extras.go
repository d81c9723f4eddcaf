package workercli

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// checkDashboardFlags validates dashboard access flags before anything starts.
func checkDashboardFlags(f *Flags, _ Env) error {
	if f.Dashboard != "" || f.API != "" {
		return fail(ExitUsage, "--dashboard and --api are not available yet")
	}
	return nil
}

// startExtras starts the dashboard and API servers; the returned func stops them.
func startExtras(_ context.Context, _ *config.Config, _ redisconn.Conn, _ *worker.Worker, _ *prometheus.Registry, _ *Flags, _ Env, _ zerolog.Logger) (func(), error) {
	return func() {}, nil
}

// runDev is `worker --dev`.
func runDev(_ context.Context, _ *Flags, _ Env, _ zerolog.Logger) error {
	return fail(ExitUsage, "--dev is not available yet")
}
