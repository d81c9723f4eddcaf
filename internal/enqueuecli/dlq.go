package enqueuecli

import (
	"encoding/json"
	"errors"
	"fmt"
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
}

func newDLQCmd(g *globals) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq count|list|replay|purge",
		Short: "Inspect, replay and purge dead-lettered tasks",
		Long: `Dead letters are tasks that can never succeed (a permanent vendor answer, or
transient failures beyond max_retry). They are kept in Redis, unbounded, until
replayed or purged. Without --endpoint a command covers every endpoint.`,
	}
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
	purge := sub("purge", "Delete dead letters for good", dlqPurge)
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
	if f.endpoint != "" {
		return []string{f.endpoint}, nil
	}
	known := map[string]bool{}
	var eps []string
	for _, n := range s.cfg.EndpointNames() {
		known[n] = true
		eps = append(eps, n)
	}
	more, err := dlq.New(s.rdb).Endpoints(cmd.Context())
	if err != nil {
		return nil, fail(cliexit.Redis, "%v", err)
	}
	for _, n := range more {
		if !known[n] {
			eps = append(eps, n)
		}
	}
	return eps, nil
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

func dlqPurge(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	store, eps := d.store, d.eps
	var purged int64
	for _, ep := range eps {
		if f.id != "" {
			ok, err := store.Remove(cmd.Context(), ep, f.id)
			if err != nil {
				return fail(cliexit.Redis, "%v", err)
			}
			if ok {
				purged++
			}
			continue
		}
		n, err := store.Purge(cmd.Context(), ep)
		if err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
		purged += n
	}
	fmt.Fprintf(cmd.OutOrStdout(), "purged=%d\n", purged)
	return nil
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
