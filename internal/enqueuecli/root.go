// Package enqueuecli is the `enqueue` command: single tasks, batch imports
// and dead-letter operations (README "Producing tasks"). cmd/enqueue only wires it to the
// process; tests drive it with buffers.
package enqueuecli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
)

// Env is the process around the command.
type Env struct {
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	Getenv     func(string) string
	IsTerminal func(w io.Writer) bool // stderr is a terminal (progress bar)
}

// fail formats an error that ends the command with exit code code.
var fail = cliexit.New

// exitFor maps an error to its exit code; an error nobody classified is
// one of cobra's own (unknown flag, missing argument): a usage error.
func exitFor(err error) int { return cliexit.Code(err, cliexit.Usage) }

// Main runs the command and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(io.Writer) bool { return false }
	}
	// A dead Redis is reported once, as exit 3 with a message; go-redis's
	// per-dial log lines would only bury it.
	redisconn.RouteLogs(zerolog.Nop())
	root := newRoot(&env)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(env.Stderr, "enqueue:", err)
	}
	return exitFor(err)
}

// globals are the flags every subcommand takes.
type globals struct {
	env      *Env
	config   string
	redisURL string
}

func newRoot(env *Env) *cobra.Command {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "enqueue",
		Short: "Put vendorq tasks on the queue and manage dead letters",
		Long: `enqueue puts tasks on vendorq's queues (one per endpoint) and manages the
dead-letter queue. It reads the same config as the worker.

Exit codes: 0 ok; 1 some rows/tasks rejected; 2 usage or config error;
3 Redis unreachable or failed mid-way (what was enqueued is reported).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.config, "config", "", "config file (default $VENDORQ_CONFIG, then ./vendorq.yaml)")
	root.PersistentFlags().StringVar(&g.redisURL, "redis", "", "Redis URL; overrides $REDIS_URL and the config's redis.url")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fail(cliexit.Usage, "%v", err) })
	root.AddCommand(newRecordCmd(g), newSMSCmd(g), newDLQCmd(g))
	for _, extra := range extraCommands {
		root.AddCommand(extra(g))
	}
	return root
}

// extraCommands lets other files of this package add subcommands (import).
var extraCommands []func(*globals) *cobra.Command

// session is an open connection to the configured Redis.
type session struct {
	cfg      *config.Config
	client   *asynq.Client
	rdb      redis.UniversalClient
	producer *producer.Producer
}

func (s *session) Close() {
	_ = s.client.Close()
	_ = s.rdb.Close()
}

// open loads the config and connects; an unreachable Redis is exit 3.
func (g *globals) open(ctx context.Context) (*session, error) {
	cfg, err := config.Load(config.Options{Path: g.config, RedisURL: g.redisURL, Getenv: g.env.Getenv})
	if err != nil {
		return nil, cliexit.Wrap(cliexit.Usage, err)
	}
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		return nil, cliexit.Wrap(cliexit.Usage, err)
	}
	rdb := conn.NewClient()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fail(cliexit.Redis, "redis %s unreachable: %v", redisconn.Redacted(cfg.Redis.URL), err)
	}
	client := asynq.NewClientFromRedisClient(rdb)
	return &session{cfg: cfg, client: client, rdb: rdb, producer: producer.New(cfg, client, rdb)}, nil
}
