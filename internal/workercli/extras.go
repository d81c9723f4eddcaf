package workercli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/dashboards"
	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dashdeps"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// Environment variables that stand in for the dashboard's flags. The
// secrets have no flag of their own that takes the value: a command line
// is visible to every user of the machine.
const (
	EnvDashboardBasicAuth    = "VENDORQ_DASHBOARD_BASIC_AUTH"
	EnvDashboardToken        = "VENDORQ_DASHBOARD_TOKEN"
	EnvDashboardAllowedHosts = "VENDORQ_DASHBOARD_ALLOWED_HOSTS"
	EnvDashboardCSRFSecret   = "VENDORQ_DASHBOARD_CSRF_SECRET"
)

// dashboardAccess is the dashboard's access settings, resolved from the
// flags, else the environment.
type dashboardAccess struct {
	creds        dashboards.Credentials
	allowedHosts []string
	csrfSecret   []byte // nil: random per process
	csrfFrom     string // where csrfSecret came from, for the start log
}

// checkDashboardFlags validates dashboard access flags before anything
// starts (exit 2 on a bad one): see dashboardSettings.
func checkDashboardFlags(f *Flags, env Env) error {
	if err := checkAPIFlags(f, env); err != nil {
		return err
	}
	_, err := dashboardSettings(f, env)
	return err
}

// fromFlagOrEnv is a setting's flag value, else its environment
// variable's, and a note naming the variable when it came from there.
func fromFlagOrEnv(flagValue string, env Env, envName string) (value, note string) {
	if flagValue != "" {
		return flagValue, ""
	}
	if v := env.Getenv(envName); v != "" {
		return v, " (from $" + envName + ")"
	}
	return "", ""
}

// dashboardSettings resolves and checks the dashboard's access settings:
// credentials of at least dashboards.MinSecretLen characters, refused
// beyond loopback when absent; the extra allowed Host names; the CSRF
// secret (from --dashboard-csrf-secret-file, else the environment). Errors
// name the flag and never show a secret.
func dashboardSettings(f *Flags, env Env) (dashboardAccess, error) {
	var a dashboardAccess
	if f.Dashboard == "" {
		switch {
		case f.AllowedHosts != "":
			return a, fail(cliexit.Usage, "%s needs --dashboard ADDR", dashboards.FlagAllowedHosts)
		case f.CSRFSecretFile != "":
			return a, fail(cliexit.Usage, "--dashboard-csrf-secret-file needs --dashboard ADDR")
		}
		return a, nil
	}
	basic, basicNote := fromFlagOrEnv(f.BasicAuth, env, EnvDashboardBasicAuth)
	if _, err := dashboards.ParseCredentials(basic, ""); err != nil {
		return a, fail(cliexit.Usage, "%v%s", err, basicNote)
	}
	token, tokenNote := fromFlagOrEnv(f.BearerToken, env, EnvDashboardToken)
	if _, err := dashboards.ParseCredentials("", token); err != nil {
		return a, fail(cliexit.Usage, "%v%s", err, tokenNote)
	}
	a.creds, _ = dashboards.ParseCredentials(basic, token)
	if err := dashboards.CheckBind(f.Dashboard, a.creds); err != nil {
		return a, fail(cliexit.Usage, "%v", err)
	}
	hosts, hostsNote := fromFlagOrEnv(f.AllowedHosts, env, EnvDashboardAllowedHosts)
	var err error
	if a.allowedHosts, err = dashboards.ParseAllowedHosts(hosts); err != nil {
		return a, fail(cliexit.Usage, "%v%s", err, hostsNote)
	}
	a.csrfSecret, a.csrfFrom, err = csrfSecret(f, env)
	return a, err
}

// csrfSecret reads --dashboard-csrf-secret-file, else
// $VENDORQ_DASHBOARD_CSRF_SECRET; neither: nil (a random secret per
// process, fine for one worker; workers behind one load balancer need the
// same secret, or a form served by one is refused by another).
func csrfSecret(f *Flags, env Env) (secret []byte, from string, err error) {
	from = "$" + EnvDashboardCSRFSecret
	s := env.Getenv(EnvDashboardCSRFSecret)
	if f.CSRFSecretFile != "" {
		b, err := os.ReadFile(f.CSRFSecretFile)
		if err != nil {
			return nil, "", fail(cliexit.Usage, "--dashboard-csrf-secret-file: %v", err)
		}
		s, from = string(b), "--dashboard-csrf-secret-file "+f.CSRFSecretFile
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "random per process", nil
	}
	if err := dashboards.CheckCSRFSecret([]byte(s)); err != nil {
		return nil, "", fail(cliexit.Usage, "%s: %v", from, err)
	}
	return []byte(s), from, nil
}

// startExtras starts the dashboard and API servers; the returned func stops
// them. dashAddr is the address the dashboard bound ("" without one).
func startExtras(ctx context.Context, cfg *config.Config, conn redisconn.Conn, w *worker.Worker, reg *prometheus.Registry, f *Flags, env Env, log zerolog.Logger) (stop func(), dashAddr string, err error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if f.Dashboard != "" {
		stop, addr, err := startDashboard(ctx, conn, w, reg, f, env, log)
		if err != nil {
			return nil, "", err
		}
		stops, dashAddr = append(stops, stop), addr
	}
	if f.API != "" {
		stop, err := startAPI(ctx, cfg, conn, w, reg, f, env, log)
		if err != nil {
			stopAll()
			return nil, "", err
		}
		stops = append(stops, stop)
	}
	return stopAll, dashAddr, nil
}

// startDashboard serves the dashboard on f.Dashboard and registers the
// scrape-time collector on reg. It returns the stop func and the address
// actually bound.
func startDashboard(ctx context.Context, conn redisconn.Conn, w *worker.Worker, reg *prometheus.Registry, f *Flags, env Env, log zerolog.Logger) (func(), string, error) {
	access, err := dashboardSettings(f, env)
	if err != nil {
		return nil, "", err
	}
	scrape := conn.NewClient() // the collector's reads, apart from the worker's pool
	collector := dashboards.NewCollector(w.DLQ, scrape, w.Endpoints()).WithBuckets(w)
	if err := reg.Register(collector); err != nil {
		_ = scrape.Close()
		return nil, "", fail(cliexit.Failed, "dashboard metrics: %v", err)
	}
	var client *asynq.Client
	var enq dlq.Enqueuer
	if !f.ReadOnly {
		client = asynq.NewClient(conn.Asynq)
		enq = w.Waking(client)
	}
	// The dashboard runs only while the worker runs (started after
	// w.Start, stopped before w.Shutdown), so this flag is the servers' state.
	var running atomic.Bool
	running.Store(true)
	srv, err := dashboards.New(dashboards.Options{
		RedisConnOpt: conn.Asynq, DeadLetters: dashdeps.DeadLetters(w.DLQ, enq), Endpoints: w.Endpoints(), Gatherer: reg,
		Health:      dashboards.Health{Ping: w.Ping, Running: running.Load},
		Credentials: access.creds, ReadOnly: f.ReadOnly, Log: log,
		Addr: f.Dashboard, AllowedHosts: access.allowedHosts, CSRFSecret: access.csrfSecret,
	})
	cleanup := func() {
		reg.Unregister(collector)
		_ = scrape.Close()
		if client != nil {
			_ = client.Close()
		}
	}
	if err != nil {
		cleanup()
		return nil, "", fail(cliexit.Failed, "%v", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.Dashboard)
	if err != nil {
		_ = srv.Close()
		cleanup()
		return nil, "", fail(cliexit.Usage, "--dashboard %s: %v (choose another address with --dashboard HOST:PORT)", f.Dashboard, err)
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
	log.Info().Str("url", "http://"+addr+"/").Str("auth", access.creds.String()).Bool("read_only", f.ReadOnly).
		Strs("allowed_hosts", append([]string{"loopback"}, access.allowedHosts...)).Str("csrf_secret", access.csrfFrom).
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
