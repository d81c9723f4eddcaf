package workercli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// Environment variables that stand in for the credential flags (a secret
// on a command line is visible to every user of the machine).
const (
	EnvDashboardBasicAuth = "VENDORQ_DASHBOARD_BASIC_AUTH"
	EnvDashboardToken     = "VENDORQ_DASHBOARD_TOKEN"
)

// checkDashboardFlags validates dashboard access flags before anything
// starts: credentials come from the flags, else the environment, and a
// dashboard beyond loopback without them is refused (exit 2).
func checkDashboardFlags(f *Flags, env Env) error {
	if err := checkAPIFlags(f, env); err != nil {
		return err
	}
	if f.BasicAuth == "" {
		f.BasicAuth = env.Getenv(EnvDashboardBasicAuth)
	}
	if f.BearerToken == "" {
		f.BearerToken = env.Getenv(EnvDashboardToken)
	}
	if _, err := dashboards.ParseCredentials(f.BasicAuth, ""); err != nil {
		return fail(ExitUsage, "--dashboard-basic-auth ($%s): %v", EnvDashboardBasicAuth, err)
	}
	if _, err := dashboards.ParseCredentials("", f.BearerToken); err != nil {
		return fail(ExitUsage, "--dashboard-token ($%s): %v", EnvDashboardToken, err)
	}
	if f.Dashboard == "" {
		return nil
	}
	creds, _ := dashboards.ParseCredentials(f.BasicAuth, f.BearerToken)
	if err := dashboards.CheckBind(f.Dashboard, creds); err != nil {
		return fail(ExitUsage, "%v", err)
	}
	return nil
}

// startExtras starts the dashboard and API servers; the returned func stops them.
func startExtras(ctx context.Context, cfg *config.Config, conn redisconn.Conn, w *worker.Worker, reg *prometheus.Registry, f *Flags, env Env, log zerolog.Logger) (func(), error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if f.Dashboard != "" {
		stop, _, err := startDashboard(ctx, conn, w, reg, f, log)
		if err != nil {
			return nil, err
		}
		stops = append(stops, stop)
	}
	if f.API != "" {
		stop, err := startAPI(ctx, cfg, conn, w, reg, f, env, log)
		if err != nil {
			stopAll()
			return nil, err
		}
		stops = append(stops, stop)
	}
	return stopAll, nil
}

// startDashboard serves the dashboard on f.Dashboard and registers the
// scrape-time collector on reg. It returns the stop func and the address
// actually bound.
func startDashboard(ctx context.Context, conn redisconn.Conn, w *worker.Worker, reg *prometheus.Registry, f *Flags, log zerolog.Logger) (func(), string, error) {
	creds, err := dashboards.ParseCredentials(f.BasicAuth, f.BearerToken)
	if err != nil {
		return nil, "", fail(ExitUsage, "%v", err)
	}
	inspector := asynq.NewInspector(conn.Asynq)
	collector := dashboards.NewCollector(w.DLQ, inspector, w.Endpoints())
	if err := reg.Register(collector); err != nil {
		_ = inspector.Close()
		return nil, "", fail(ExitFail, "dashboard metrics: %v", err)
	}
	var client *asynq.Client
	var enq dlq.Enqueuer
	if !f.ReadOnly {
		client = asynq.NewClient(conn.Asynq)
		enq = client
	}
	// The dashboard runs only while the worker runs (started after
	// w.Start, stopped before w.Shutdown), so this flag is the servers' state.
	var running atomic.Bool
	running.Store(true)
	srv, err := dashboards.New(dashboards.Options{
		RedisConnOpt: conn.Asynq, DLQ: w.DLQ, Enqueuer: enq, Endpoints: w.Endpoints(), Gatherer: reg,
		Health:      dashboards.Health{Ping: w.Ping, Running: running.Load},
		Credentials: creds, ReadOnly: f.ReadOnly, Log: log,
	})
	cleanup := func() {
		reg.Unregister(collector)
		_ = inspector.Close()
		if client != nil {
			_ = client.Close()
		}
	}
	if err != nil {
		cleanup()
		return nil, "", fail(ExitFail, "%v", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.Dashboard)
	if err != nil {
		_ = srv.Close()
		cleanup()
		return nil, "", fail(ExitUsage, "--dashboard %s: %v (choose another address with --dashboard HOST:PORT)", f.Dashboard, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("dashboard stopped")
		}
	}()
	addr := ln.Addr().String()
	log.Info().Str("url", "http://"+addr+"/").Str("auth", creds.String()).Bool("read_only", f.ReadOnly).
		Msg("dashboard: /monitoring/ (queues), /dlq (dead letters), /metrics, /healthz")
	stop := func() {
		running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
		_ = srv.Close()
		cleanup()
	}
	return stop, addr, nil
}
