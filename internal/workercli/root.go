// Package workercli is the `worker` command: it loads the config, serves
// every endpoint until SIGTERM/SIGINT and drains gracefully. cmd/worker only
// wires it to the process.
package workercli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// Env is the process around the command.
type Env struct {
	Stdout     io.Writer
	Stderr     io.Writer
	Getenv     func(string) string
	IsTerminal func(w io.Writer) bool
}

// fail formats an error that ends the command with exit code code.
var fail = cliexit.New

// Flags of the worker command.
type Flags struct {
	Config    string
	Redis     string
	Dashboard string
	Dev       bool
	LogFormat string
	LogLevel  string
	// Dashboard access (see dashboards package).
	BasicAuth      string // user:password
	BearerToken    string
	ReadOnly       bool
	AllowedHosts   string // comma-separated Host names besides loopback (else $VENDORQ_DASHBOARD_ALLOWED_HOSTS)
	CSRFSecretFile string // file holding the CSRF secret (else $VENDORQ_DASHBOARD_CSRF_SECRET)
	API            string
	// APIOnly serves the API (and its /healthz) without the endpoints: no
	// vendor is called, so the config is loaded as a producer's.
	APIOnly bool

	APITokenFile   string // file holding the API bearer token (else $VENDORQ_API_TOKEN)
	APIMaxInFlight int    // request bodies the API holds at once (0 = api.DefaultMaxInFlight)
}

// Main runs the worker until ctx is cancelled and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(io.Writer) bool { return false }
	}
	f := &Flags{}
	cmd := &cobra.Command{
		Use:   "worker [--config FILE] [--dashboard ADDR] [--dev]",
		Short: "Serve every endpoint of the config: call the vendors under shared rate limits",
		Long: `worker serves one queue per endpoint of the config, each with its own
concurrency, calling the vendor under a token bucket shared (in Redis) by
every worker process. SIGTERM/SIGINT drain gracefully.

  worker --dev                  embedded Redis, built-in vendor simulator, demo
                                tasks, dashboard on 127.0.0.1:8080: needs only Go
  worker --config vendorq.yaml --dashboard 127.0.0.1:8080
  worker --config producer.yaml --api 127.0.0.1:8090 --api-only
                                the HTTP enqueue API alone: calls no vendor,
                                so the config needs no vendor credential

Exit codes: 0 ok; 1 runtime failure; 2 usage or config error; 3 Redis unreachable.`,
		// An argument is a usage error (2), not a runtime failure (1).
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return cliexit.Wrap(cliexit.Usage, err)
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), f, env)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Config, "config", "", "config file (default $VENDORQ_CONFIG, then ./vendorq.yaml)")
	fl.StringVar(&f.Redis, "redis", "", "Redis URL; overrides $REDIS_URL and the config's redis.url")
	fl.StringVar(&f.Dashboard, "dashboard", "", "serve the dashboard, /metrics and /healthz on ADDR (e.g. 127.0.0.1:8080)")
	fl.BoolVar(&f.Dev, "dev", false, "demo mode: embedded Redis (unless --redis), vendor simulator, demo tasks, dashboard on 127.0.0.1:8080")
	fl.StringVar(&f.LogFormat, "log-format", "auto", "auto (console on a terminal, else JSON), json or console")
	fl.StringVar(&f.LogLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.BasicAuth, "dashboard-basic-auth", "", "USER:PASSWORD required by the dashboard (default $VENDORQ_DASHBOARD_BASIC_AUTH)")
	fl.StringVar(&f.BearerToken, "dashboard-token", "", "bearer token required by the dashboard (default $VENDORQ_DASHBOARD_TOKEN)")
	fl.BoolVar(&f.ReadOnly, "read-only", false, "dashboard shows but cannot change anything")
	fl.StringVar(&f.AllowedHosts, "dashboard-allowed-hosts", "", "HOST[:PORT],... the dashboard answers to besides loopback names, e.g. the name a reverse proxy forwards (default $VENDORQ_DASHBOARD_ALLOWED_HOSTS)")
	fl.StringVar(&f.CSRFSecretFile, "dashboard-csrf-secret-file", "", "file holding the secret that signs the dashboard's CSRF tokens; give every worker behind one load balancer the same (default $VENDORQ_DASHBOARD_CSRF_SECRET, else random per process)")
	fl.StringVar(&f.API, "api", "", "serve the HTTP enqueue API on ADDR (bearer token from $VENDORQ_API_TOKEN or --api-token-file)")
	fl.BoolVar(&f.APIOnly, "api-only", false, "serve only the HTTP API (with --api ADDR): no endpoint, no vendor call, so the config needs no vendor credential")
	fl.StringVar(&f.APITokenFile, "api-token-file", "", "file holding the API's bearer token (default $VENDORQ_API_TOKEN)")
	fl.IntVar(&f.APIMaxInFlight, "api-max-in-flight", 0, "maximal (16 MiB) request bodies the API holds at once; beyond, 503 + Retry-After (0 = default 4)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(cliexit.Usage, "%v", err) })
	cmd.SetArgs(args)
	cmd.SetOut(env.Stdout)
	cmd.SetErr(env.Stderr)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(env.Stderr, "worker:", err)
	}
	return exitCode(err)
}

func exitCode(err error) int { return cliexit.Code(err, cliexit.Failed) }

// NewLogger builds the zerolog logger: console on a terminal, JSON otherwise.
func NewLogger(w io.Writer, format, level string, terminal bool) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fail(cliexit.Usage, "--log-level: %q is not one of debug, info, warn, error", level)
	}
	switch format {
	case "auto":
		if terminal {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	case "json":
	default:
		return zerolog.Nop(), fail(cliexit.Usage, "--log-format: %q is not one of auto, json, console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func run(ctx context.Context, f *Flags, env Env) error {
	log, err := NewLogger(env.Stderr, f.LogFormat, f.LogLevel, env.IsTerminal(env.Stderr))
	if err != nil {
		return err
	}
	redisconn.RouteLogs(log)
	if err := checkAPIOnly(f); err != nil {
		return err
	}
	if f.Dev {
		return runDev(ctx, f, env, log)
	}
	role := config.RoleWorker // calls vendors: every required credential
	if f.APIOnly {
		role = config.RoleProducer
	}
	cfg, err := config.Load(config.Options{Path: f.Config, RedisURL: f.Redis, Getenv: env.Getenv, Role: role})
	if err != nil {
		return cliexit.Wrap(cliexit.Usage, err)
	}
	return serve(ctx, cfg, f, env, log, serveHooks{})
}

// serveHooks are what `--dev` adds to the one serve path; the zero value
// serves a config file.
type serveHooks struct {
	shutdownTimeout time.Duration // 0 = the worker's default
	// started runs once the worker and its dashboard/API are up; the func
	// it returns is awaited after the signal, before draining.
	started func(ctx context.Context, s running) (wait func())
}

// running is what a started hook can use.
type running struct {
	conn          redisconn.Conn
	rdb           redis.UniversalClient
	dashboardAddr string // "" without --dashboard
}

// serve runs the worker (and dashboard/API when asked) until ctx ends;
// with --api-only, the API alone (no worker: nothing calls a vendor).
func serve(ctx context.Context, cfg *config.Config, f *Flags, env Env, log zerolog.Logger, hooks serveHooks) error {
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		return cliexit.Wrap(cliexit.Usage, err)
	}
	if err := checkDashboardFlags(f, env); err != nil {
		return err
	}
	rdb := conn.NewClient()
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fail(cliexit.Redis, "redis %s unreachable: %v", redisconn.Redacted(cfg.Redis.URL), err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var w *worker.Worker // nil with --api-only
	shutdown := func() {}
	if !f.APIOnly {
		w, err = worker.New(cfg, conn, rdb, worker.Options{
			Log: log, Registerer: reg, ShutdownTimeout: hooks.shutdownTimeout,
			IdleGrace: cfg.Idle.Grace, SweepBudget: cfg.Idle.SweepBudget, AlwaysOn: cfg.Idle.AlwaysOn,
		})
		if err != nil {
			return cliexit.Wrap(cliexit.Usage, err)
		}
		if err := w.Start(); err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
		shutdown = w.Shutdown
		log.Info().Str("redis", redisconn.Redacted(cfg.Redis.URL)).Strs("endpoints", w.Endpoints()).Msg("worker started")
	} else {
		log.Info().Str("redis", redisconn.Redacted(cfg.Redis.URL)).Strs("endpoints", cfg.EndpointNames()).Msg("API only: no endpoint served, no vendor called")
	}
	stopExtras, dashAddr, err := startExtras(ctx, cfg, conn, w, reg, f, env, log)
	if err != nil {
		shutdown()
		return err
	}
	wait := func() {}
	if hooks.started != nil {
		wait = hooks.started(ctx, running{conn: conn, rdb: rdb, dashboardAddr: dashAddr})
	}
	<-ctx.Done()
	log.Info().Msg("signal received: draining")
	wait()
	stopExtras()
	shutdown()
	return nil
}
