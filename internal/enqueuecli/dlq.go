package enqueuecli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/tasks"
)

type dlqFlags struct {
	endpoint   string
	id         string
	asJSON     bool
	limit      int
	showPhones bool
	all, yes   bool // purge without a target
	keepKeys   bool // purge keeps the dedupe markers
}

func newDLQCmd(g *globals) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq count|list|replay|purge",
		Short: "Inspect, replay and purge dead-lettered tasks",
		Long: `Dead letters are tasks that can never succeed (a permanent vendor answer, or
transient failures beyond max_retry). They are kept in Redis, unbounded, until
replayed or purged. Without --endpoint a command covers every endpoint
(except purge, which then needs --all --yes, or asks on a terminal).`,
	}
	groupOnly(cmd, false)
	cmd.PersistentFlags().StringVar(&f.endpoint, "endpoint", "", "only this endpoint")
	cmd.PersistentFlags().StringVar(&f.id, "id", "", "only this task ID (list, replay, purge)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print one JSON object per line")
	sub := func(use, short string, run func(*cobra.Command, *dlqFlags, *dlqRun) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return g.withDLQ(cmd, f, run) }}
	}
	count := sub("count", "Number of dead letters per endpoint", dlqCount)
	list := sub("list", "Dead letters, newest first", dlqList)
	list.Long = `Dead letters, newest first. Phone numbers in the id, the error and the payload
are masked (138****0000, as in the logs and on the dashboard) unless
--show-phones is given; a task id that holds a phone is masked too, so take the
id for --id from a --show-phones listing.`
	list.Flags().IntVar(&f.limit, "limit", 0, "at most this many per endpoint (0 = all)")
	list.Flags().BoolVar(&f.showPhones, "show-phones", false, "print phone numbers in full: the output then holds personal data (PII)")
	replay := sub("replay", "Put dead letters back on their queue (each entry is removed once re-enqueued)", dlqReplay)
	purge := sub("purge", "Delete dead letters for good (and unblock their keys)", dlqPurge)
	purge.Long = `Delete dead letters for good: those of --endpoint, the one of --id, or with
--all those of every endpoint. Without --endpoint or --id, purge refuses
(exit 2) unless given --all --yes; on a terminal it asks first.

A purge also deletes the purged tasks' dedupe markers, so that the fixed task
can be enqueued again with the same --key (as a replay does); with
--keep-keys those keys stay blocked until the config's dedupe.window ends.`
	purge.Example = `  enqueue dlq purge --endpoint forms
  enqueue dlq purge --endpoint sms --id otp-7781
  enqueue dlq purge --all --yes`
	purge.PreRunE = func(*cobra.Command, []string) error { return checkPurgeFlags(f, g.env) }
	purge.Flags().BoolVar(&f.all, "all", false, "purge every endpoint's dead letters (needs --yes when not on a terminal)")
	purge.Flags().BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	purge.Flags().BoolVar(&f.keepKeys, "keep-keys", false, "keep the purged tasks' dedupe markers: their keys stay blocked for the dedupe window")
	cmd.AddCommand(count, list, replay, purge)
	return cmd
}

// dlqRun is what every dlq subcommand works on.
type dlqRun struct {
	session *session
	store   *dlq.Store
	eps     []string
}

// withDLQ opens the session, resolves the endpoints to cover and runs fn.
func (g *globals) withDLQ(cmd *cobra.Command, f *dlqFlags, fn func(*cobra.Command, *dlqFlags, *dlqRun) error) error {
	s, err := g.open(cmd.Context())
	if err != nil {
		return err
	}
	defer s.Close()
	eps, err := g.dlqEndpoints(cmd, s, f)
	if err != nil {
		return err
	}
	return fn(cmd, f, &dlqRun{session: s, store: dlq.New(s.rdb), eps: eps})
}

func (g *globals) dlqEndpoints(cmd *cobra.Command, s *session, f *dlqFlags) ([]string, error) {
	known := map[string]bool{}
	var eps []string
	for _, n := range s.cfg.EndpointNames() {
		known[n] = true
		eps = append(eps, n)
	}
	if f.endpoint != "" && known[f.endpoint] {
		return []string{f.endpoint}, nil
	}
	// Endpoints no longer configured that still have dead letters.
	more, err := dlq.New(s.rdb).Endpoints(cmd.Context())
	if err != nil {
		return nil, fail(cliexit.Redis, "%v", err)
	}
	for _, n := range more {
		if !known[n] {
			eps = append(eps, n)
		}
		known[n] = true
	}
	if f.endpoint != "" {
		if !known[f.endpoint] {
			return nil, unknownEndpoint(f.endpoint, s.cfg.EndpointNames())
		}
		return []string{f.endpoint}, nil
	}
	return eps, nil
}

// unknownEndpoint is the usage error for --endpoint name, naming the
// configured endpoints and the closest of them when it is a likely typo.
func unknownEndpoint(name string, configured []string) error {
	msg := fmt.Sprintf("--endpoint: unknown endpoint %q (configured: %s)", name, strings.Join(configured, ", "))
	if c := closest(name, configured); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return fail(cliexit.Usage, "%s", msg)
}

func dlqCount(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	store, eps := d.store, d.eps
	out := cmd.OutOrStdout()
	var total int64
	for _, ep := range eps {
		n, err := store.Count(cmd.Context(), ep)
		if err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
		total += n
		switch {
		case f.asJSON:
			b, _ := json.Marshal(map[string]any{"endpoint": ep, "count": n})
			fmt.Fprintln(out, string(b))
		case f.endpoint != "":
			fmt.Fprintln(out, n)
		default:
			fmt.Fprintf(out, "%s\t%d\n", ep, n)
		}
	}
	if !f.asJSON && f.endpoint == "" {
		fmt.Fprintf(out, "total\t%d\n", total)
	}
	return nil
}

func dlqList(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	store, eps := d.store, d.eps
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	if !f.asJSON {
		fmt.Fprintln(tw, "ENDPOINT\tID\tTYPE\tCODE\tATTEMPTS\tLAST ATTEMPT\tERROR")
	}
	emit := func(e dlq.Entry) error {
		if !f.showPhones {
			e = maskEntry(e)
		}
		if f.asJSON {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, string(b))
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Endpoint, e.ID, e.Type, e.Code, e.Attempts, e.LastAttempt.Format(time.RFC3339), shorten(e.Error, 80))
		return nil
	}
	for _, ep := range eps {
		if f.id != "" {
			e, err := store.Get(cmd.Context(), ep, f.id)
			if errors.Is(err, dlq.ErrNotFound) {
				continue
			}
			if err != nil {
				return fail(cliexit.Redis, "%v", err)
			}
			if err := emit(e); err != nil {
				return err
			}
			continue
		}
		n := 0
		errStop := errors.New("stop")
		err := store.Scan(cmd.Context(), ep, func(e dlq.Entry) error {
			if f.limit > 0 && n >= f.limit {
				return errStop
			}
			n++
			return emit(e)
		})
		if err != nil && !errors.Is(err, errStop) {
			return fail(cliexit.Redis, "%v", err)
		}
	}
	if !f.asJSON {
		return tw.Flush()
	}
	return nil
}

func dlqReplay(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	ctx, store := cmd.Context(), d.store
	var replayed int64
	defer func() { fmt.Fprintf(cmd.OutOrStdout(), "replayed=%d\n", replayed) }()
	for _, ep := range d.eps {
		if f.id != "" {
			ok, err := store.ReplayOne(ctx, d.session.client, ep, f.id)
			if err != nil {
				return fail(cliexit.Redis, "%v", err)
			}
			if ok {
				replayed++
			}
			continue
		}
		n, err := store.ReplayAll(ctx, d.session.client, ep)
		replayed += n
		if err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
	}
	if f.id != "" && replayed == 0 {
		return fail(cliexit.Failed, "no dead letter with id %q", f.id)
	}
	return nil
}

// checkPurgeFlags refuses, before anything is opened, a purge that would
// cover every endpoint without being asked for (--all --yes) and where
// nobody can be asked (no terminal).
func checkPurgeFlags(f *dlqFlags, env *Env) error {
	targeted := f.endpoint != "" || f.id != ""
	switch {
	case f.all && f.endpoint != "":
		return fail(cliexit.Usage, "--all and --endpoint exclude each other")
	case f.all && f.id != "":
		return fail(cliexit.Usage, "--all and --id exclude each other (--id purges one dead letter)")
	case targeted || f.all && f.yes || env.interactive():
		return nil
	case f.all:
		return fail(cliexit.Usage, "dlq purge --all deletes the dead letters of every endpoint: add --yes to confirm (not on a terminal, so nobody can be asked)")
	}
	return fail(cliexit.Usage, "dlq purge needs a target: --endpoint E, --id ID, or --all --yes to delete the dead letters of every endpoint")
}

func dlqPurge(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	ctx, store, eps := cmd.Context(), d.store, d.eps
	opts := dlq.PurgeOptions{KeepKeys: f.keepKeys}
	consented := f.all && f.yes // --yes alone is not consent to every endpoint
	if f.endpoint == "" && f.id == "" && !consented {
		ok, err := confirmPurgeAll(cmd, store, eps)
		if err != nil || !ok {
			return err
		}
	}
	var purged int64
	for _, ep := range eps {
		if f.id != "" {
			ok, err := store.PurgeOne(ctx, ep, f.id, opts)
			if err != nil {
				return fail(cliexit.Redis, "%v", err)
			}
			if ok {
				purged++
			}
			continue
		}
		n, err := store.PurgeWith(ctx, ep, opts)
		purged += n
		if err != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "purged=%d\n", purged)
			return fail(cliexit.Redis, "%v", err)
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "purged=%d\n", purged)
	if f.id != "" && purged == 0 {
		return fail(cliexit.Failed, "no dead letter with id %q", f.id)
	}
	return nil
}

// errDeclined: the operator answered no; nothing was deleted.
var errDeclined = fail(cliexit.Failed, "purge cancelled: nothing deleted")

// confirmPurgeAll asks on the terminal before every endpoint's dead letters
// go; with none there is nothing to ask (and it reports true).
func confirmPurgeAll(cmd *cobra.Command, store *dlq.Store, eps []string) (bool, error) {
	var total int64
	for _, ep := range eps {
		n, err := store.Count(cmd.Context(), ep)
		if err != nil {
			return false, fail(cliexit.Redis, "%v", err)
		}
		total += n
	}
	if total == 0 {
		return true, nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "purge %d dead letters of every endpoint? [y/N] ", total)
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fail(cliexit.Usage, "reading the answer: %v", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, errDeclined
}

// maskEntry masks phones wherever a dead letter carries them: its id (a
// producer's key may hold one), its error (vendors echo the number) and
// its payload, which stays valid JSON for --json.
func maskEntry(e dlq.Entry) dlq.Entry {
	e.ID = tasks.MaskPhones(e.ID)
	e.Error = tasks.MaskPhones(e.Error)
	e.Payload = tasks.MaskPhonesJSON(e.Payload)
	return e
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
