// Package enqueuecli is the `enqueue` command: single tasks, batch imports
// and dead-letter operations (README "Producing tasks"). cmd/enqueue only wires it to the
// process; tests drive it with buffers.
package enqueuecli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
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
	IsTerminal func(w io.Writer) bool // w is a terminal (stderr: progress bar; stdin and stderr: confirmations)
}

// interactive reports whether someone can be asked: stderr is a terminal,
// and so is stdin when it is a file (a pipe or a redirect is nobody).
func (e *Env) interactive() bool {
	if !e.IsTerminal(e.Stderr) {
		return false
	}
	if w, ok := e.Stdin.(io.Writer); ok {
		return e.IsTerminal(w)
	}
	return true
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
	root.SetIn(env.Stdin)
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
	groupOnly(root, true)
	root.AddCommand(newRecordCmd(g), newSMSCmd(g), newDLQCmd(g))
	for _, extra := range extraCommands {
		root.AddCommand(extra(g))
	}
	return root
}

// groupOnly makes cmd, which only groups subcommands, refuse anything else
// as a usage error (exit 2) with a suggestion. Without it cobra prints the
// help and exits 0 for `enqueue dlq replya`, as if the typo had worked.
// Bare, cmd prints its help (bareHelp) or refuses too.
func groupOnly(cmd *cobra.Command, bareHelp bool) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2 // cobra's default, which only its own (root) check sets
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			if bareHelp {
				return c.Help()
			}
			return fail(cliexit.Usage, "%q needs a command: one of %s (see %s --help)", c.CommandPath(), strings.Join(subcommandNames(c), ", "), c.CommandPath())
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		} else {
			msg += "; commands: " + strings.Join(subcommandNames(c), ", ")
		}
		return fail(cliexit.Usage, "%s", msg)
	}
}

func subcommandNames(c *cobra.Command) []string {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" && sub.Name() != "completion" {
			names = append(names, sub.Name())
		}
	}
	return names
}

// closest is the candidate nearest to s when it is a likely typo of it
// (at most 2 edits, or one a prefix of the other), else "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if strings.HasPrefix(c, s) || strings.HasPrefix(s, c) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
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

// replayer is the enqueuer of a DLQ replay: it wakes the endpoints it
// puts tasks back on, so that idle workers start at once (docs/idle.md).
func (s *session) replayer() producer.Enqueuer {
	return s.producer.Waker().WakingEnqueuer(s.client)
}

// open loads the config and connects; an unreachable Redis is exit 3.
// enqueue never calls a vendor: it loads the config as a producer, which
// needs no credential (config.RoleProducer).
func (g *globals) open(ctx context.Context) (*session, error) {
	cfg, err := config.Load(config.Options{Path: g.config, RedisURL: g.redisURL, Getenv: g.env.Getenv, Role: config.RoleProducer})
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
