package workercli

import (
	"context"
	"os"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/worker"
)

// EnvAPIToken holds the HTTP API's bearer token. There is deliberately no
// --api-token flag: a command line is readable by every user of the
// machine; --api-token-file suits secrets mounted as files.
const EnvAPIToken = "VENDORQ_API_TOKEN"

// checkAPIFlags resolves the API token before anything starts: --api
// without a token (or with one shorter than api.MinTokenLen) is exit 2.
func checkAPIFlags(f *Flags, env Env) error {
	if f.API == "" {
		if f.APITokenFile != "" {
			return fail(cliexit.Usage, "--api-token-file needs --api ADDR")
		}
		if f.APIMaxInFlight != 0 {
			return fail(cliexit.Usage, "--api-max-in-flight needs --api ADDR")
		}
		return nil
	}
	if f.APIMaxInFlight < 0 {
		return fail(cliexit.Usage, "--api-max-in-flight: %d is negative (0 means the default, %d)", f.APIMaxInFlight, api.DefaultMaxInFlight)
	}
	_, err := apiToken(f, env)
	return err
}

// checkAPIOnly refuses --api-only where it means nothing: without --api,
// with --dev (which runs the endpoints), or with --dashboard (whose pages
// and health are the worker's; run the dashboard on a worker).
func checkAPIOnly(f *Flags) error {
	switch {
	case !f.APIOnly:
		return nil
	case f.API == "":
		return fail(cliexit.Usage, "--api-only needs --api ADDR")
	case f.Dev:
		return fail(cliexit.Usage, "--api-only and --dev exclude each other (--dev runs the endpoints)")
	case f.Dashboard != "":
		return fail(cliexit.Usage, "--api-only serves no dashboard: run --dashboard on a worker")
	}
	return nil
}

// apiToken reads the token from --api-token-file, else $VENDORQ_API_TOKEN.
// Errors never show the token.
func apiToken(f *Flags, env Env) (string, error) {
	tok, from := env.Getenv(EnvAPIToken), "$"+EnvAPIToken
	if f.APITokenFile != "" {
		b, err := os.ReadFile(f.APITokenFile)
		if err != nil {
			return "", fail(cliexit.Usage, "--api-token-file: %v", err)
		}
		tok, from = strings.TrimSpace(string(b)), "--api-token-file "+f.APITokenFile
	}
	if tok == "" {
		return "", fail(cliexit.Usage, "--api needs a bearer token: set $%s or --api-token-file FILE (at least %d characters)", EnvAPIToken, api.MinTokenLen)
	}
	if len(strings.TrimSpace(tok)) < api.MinTokenLen {
		return "", fail(cliexit.Usage, "--api: the token from %s is shorter than %d characters", from, api.MinTokenLen)
	}
	return strings.TrimSpace(tok), nil
}

// startAPI serves the HTTP enqueue API on f.API; the returned func stops it
// (in-flight requests get up to 10 s). Tasks are validated against cfg and
// enqueued through internal/producer, on the worker's Redis. w is nil with
// --api-only: /healthz then pings Redis itself.
func startAPI(ctx context.Context, cfg *config.Config, conn redisconn.Conn, w *worker.Worker, _ *prometheus.Registry, f *Flags, env Env, log zerolog.Logger) (func(), error) {
	tok, err := apiToken(f, env)
	if err != nil {
		return nil, err
	}
	rdb := conn.NewClient()
	client := asynq.NewClientFromRedisClient(rdb)
	closeAll := func() {
		_ = client.Close()
		_ = rdb.Close()
	}
	ping := func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	if w != nil {
		ping = w.Ping
	}
	srv, err := api.New(api.Options{
		Producer: producer.New(cfg, client, rdb), Token: tok, Ping: ping, MaxInFlight: f.APIMaxInFlight,
		DeadLetters: dlq.New(rdb), Replayer: producer.NewWaker(rdb).WakingEnqueuer(client), // a replay wakes the endpoint (docs/idle.md)
		Log: log.With().Str("component", "api").Logger(), Tasks: taskLookup(cfg, rdb), NewBatch: newBatch(cfg, rdb),
	})
	if err != nil {
		closeAll()
		return nil, fail(cliexit.Usage, "--api: %v", err)
	}
	addr, stop, err := api.Listen(ctx, srv, f.API)
	if err != nil {
		closeAll()
		return nil, fail(cliexit.Usage, "--api %s: %v", f.API, err)
	}
	log.Info().Str("url", "http://"+addr+"/v1/tasks/record").Str("openapi", "http://"+addr+"/openapi.json").Msg("HTTP enqueue API ready (bearer token required)")
	return func() {
		stop()
		closeAll()
	}, nil
}
