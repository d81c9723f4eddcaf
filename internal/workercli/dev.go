package workercli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/devdemo"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// DevDashboard is where --dev serves the dashboard unless --dashboard says otherwise.
const DevDashboard = "127.0.0.1:8080"

// devShutdownTimeout keeps Ctrl-C snappy: demo tasks still running after it
// simply go back to their queue.
const devShutdownTimeout = 5 * time.Second

// runDev is `worker --dev`: embedded Redis (unless --redis), the vendor
// simulator in-process, the demo config, demo tasks flowing and the
// dashboard, all in one process that needs nothing but Go. It logs through
// its own logger (devLogger), not the one run built.
func runDev(ctx context.Context, f *Flags, env Env, _ zerolog.Logger) error {
	log, closeLog, err := devLogger(f, env)
	if err != nil {
		return err
	}
	defer closeLog()
	if f.Config != "" {
		return fail(cliexit.Usage, "--dev runs its own demo config against the built-in simulator; drop --config (or drop --dev to serve your config)")
	}
	if f.Dashboard == "" {
		f.Dashboard = DevDashboard
	}
	redisURL, redisNote, stopRedis, err := devRedis(f.Redis)
	if err != nil {
		return err
	}
	defer stopRedis()
	sim := vendorsim.New(devdemo.SimConfig())
	simURL, stopSim, err := serveLoopback(ctx, sim)
	if err != nil {
		return fail(cliexit.Failed, "vendor simulator: %v", err)
	}
	defer stopSim()
	cfg, err := devdemo.Config(simURL, redisURL)
	if err != nil {
		return fail(cliexit.Failed, "%v", err)
	}
	// The demo config runs through the same serve path as --config; the
	// hook prints the links and keeps demo tasks flowing until the signal.
	return serve(ctx, cfg, f, env, log, serveHooks{
		shutdownTimeout: devShutdownTimeout,
		started: func(ctx context.Context, s running) func() {
			client := asynq.NewClient(s.conn.Asynq)
			printDevBanner(env.Stdout, s.dashboardAddr, redisNote, simURL)
			genDone := make(chan struct{})
			go func() {
				defer close(genDone)
				_ = devdemo.Run(ctx, devdemo.Options{
					Producer: producer.New(cfg, client, s.rdb), Sim: sim, Log: log,
					// Again once the first burst's lines are out, so
					// that the links are on screen.
					OnFirstBurst: func() { printDevBanner(env.Stdout, s.dashboardAddr, redisNote, simURL) },
				})
			}()
			return func() {
				<-genDone
				_ = client.Close()
			}
		},
	})
}

// devLogger is --dev's logger: console lines even when stderr is not a
// terminal (go run, make dev | tee) unless --log-format json, and at
// --log-level info the successful calls summarised per endpoint every
// devSummaryEvery (devlog.go) instead of one line each; --log-level debug
// shows every line. close writes the last summary.
func devLogger(f *Flags, env Env) (log zerolog.Logger, closeLog func(), err error) {
	terminal := env.IsTerminal(env.Stderr)
	out := env.Stderr
	if f.LogFormat != "json" {
		out = zerolog.ConsoleWriter{Out: env.Stderr, TimeFormat: time.TimeOnly, NoColor: !terminal}
	}
	closeLog = func() {}
	if f.LogLevel == zerolog.LevelInfoValue {
		sw := newSummaryWriter(out, devSummaryEvery)
		out, closeLog = sw, sw.Close
	}
	// The writer is ours: NewLogger only checks the level and sets it.
	log, err = NewLogger(out, "json", f.LogLevel, terminal)
	if err != nil {
		closeLog()
		return zerolog.Nop(), nil, err
	}
	if f.LogLevel == zerolog.LevelInfoValue {
		log.Info().Dur("every_ms", devSummaryEvery).Msg("dev: successful calls are summarised per endpoint every 5s; --log-level debug shows each")
	}
	return log, closeLog, nil
}

// devRedis returns the Redis to use: --redis when given, else an embedded
// miniredis on a loopback port (in memory, gone on exit).
func devRedis(flag string) (url, note string, stop func(), err error) {
	if flag != "" {
		return flag, redisconn.Redacted(flag), func() {}, nil
	}
	m := miniredis.NewMiniRedis()
	// TTLs follow the wall clock, as in a real Redis: quota pauses, dedupe
	// markers and asynq's heartbeats expire on their own.
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", "", nil, fail(cliexit.Failed, "embedded Redis: %v", err)
	}
	return "redis://" + m.Addr() + "/0", "embedded (miniredis) at " + m.Addr() + ", in memory, gone on exit; use --redis URL to keep it", m.Close, nil
}

// serveLoopback serves h on a free loopback port.
func serveLoopback(ctx context.Context, h http.Handler) (url string, stop func(), err error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed at stop; the listener is ours and local
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

func printDevBanner(out io.Writer, addr, redisNote, simURL string) {
	base := "http://" + addr
	fmt.Fprintf(out, `
vendorq worker --dev is running: demo tasks flow through four endpoints (forms, tables, gjy, sms).
  dashboard     %[1]s/
  queues        %[1]s/monitoring/
  dead letters  %[1]s/dlq
  metrics       %[1]s/metrics
  health        %[1]s/healthz
  redis         %[2]s
  simulator     %[3]s   (what it received: %[3]s/_sim/stats)
Press Ctrl-C to stop.

`, base, redisNote, simURL)
}
