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
)

type dlqFlags struct {
	endpoint   string
	id         string
	asJSON     bool
	limit      int
	after      string // list: the cursor to page on from
	by         string // count: the grouping
	dryRun     bool   // replay, purge: print the count only
	showPhones bool
	all, yes   bool // purge without a target
	keepKeys   bool // purge keeps the dedupe markers
	dlqFilterFlags
}

func newDLQCmd(g *globals) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq count|list|replay|purge",
		Short: "Inspect, replay and purge dead-lettered tasks",
		Long: `Dead letters are tasks that can never succeed (a permanent vendor answer, or
transient failures beyond max_retry). They are kept in Redis, unbounded, until
replayed or purged. Without --endpoint a command covers every endpoint
(except purge, which then needs --all --yes, or asks on a terminal).

Filters combine (AND; several --code values OR): --endpoint, --code, --class,
--type, --since, --until, --grep. Every one but --grep is answered from an
index, without reading the whole store; --grep reads the entries that the
other filters select.`,
		Example: `  enqueue dlq count --by code
  enqueue dlq list --endpoint forms --code 4001 --since 2h --limit 50
  enqueue dlq replay --code 4001 --since 2026-11-20T09:00:00+08:00 --dry-run
  enqueue dlq replay --code 4001 --since 2026-11-20T09:00:00+08:00
  enqueue dlq purge --class permanent --grep "form not found"`,
	}
	groupOnly(cmd, false)
	cmd.PersistentFlags().StringVar(&f.endpoint, "endpoint", "", "only this endpoint")
	cmd.PersistentFlags().StringVar(&f.id, "id", "", "only this task ID (list, replay, purge)")
	cmd.PersistentFlags().BoolVar(&f.asJSON, "json", false, "print one JSON object per line")
	f.register(cmd)
	sub := func(use, short string, run func(*cobra.Command, *dlqFlags, *dlqRun) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return g.withDLQ(cmd, f, run) }}
	}
	count := sub("count", "Number of dead letters per endpoint (or per code, class, type)", dlqCount)
	count.Flags().StringVar(&f.by, "by", "", "one count per "+strings.Join(dlq.Groupings, "|")+" instead of per endpoint")
	list := sub("list", "Dead letters, newest first", dlqList)
	list.Long = `Dead letters, newest first over every endpoint selected. Phone numbers in the
id, the error and the payload are masked (138****0000, as in the logs and on the
dashboard) unless --show-phones is given; a task id that holds a phone is masked
too, so take the id for --id from a --show-phones listing.

With --limit N at most N are printed and, when there are more, the last line on
stderr is next=CURSOR: pass it as --after CURSOR (with the same filters) for the
next page. A cursor is a position in the listing: dead letters added meanwhile
neither repeat nor shift the pages that follow.`
	list.Flags().IntVar(&f.limit, "limit", 0, "at most this many (0 = all; with --after, a page)")
	list.Flags().StringVar(&f.after, "after", "", "page on after this cursor (printed as next=CURSOR on stderr by the previous page)")
	list.Flags().BoolVar(&f.showPhones, "show-phones", false, "print phone numbers in full: the output then holds personal data (PII)")
	replay := sub("replay", "Put dead letters back on their queue (each entry is removed once re-enqueued)", dlqReplay)
	replay.Flags().BoolVar(&f.dryRun, "dry-run", false, "print how many would be replayed; replay nothing")
	purge := sub("purge", "Delete dead letters for good (and unblock their keys)", dlqPurge)
	purge.Long = `Delete dead letters for good: those of --endpoint, the one of --id, those that
pass the filters (--code, --class, --type, --since, --until, --grep), or with
--all those of every endpoint. Without any of these, purge refuses (exit 2)
unless given --all --yes; on a terminal it asks first. --dry-run prints how
many would go and deletes nothing.

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
	purge.Flags().BoolVar(&f.dryRun, "dry-run", false, "print how many would be purged; purge nothing")
	reindex := sub("reindex", "Rebuild the dead-letter indexes (after an upgrade; filtered commands also do it by themselves)", dlqReindex)
	reindex.Long = `The filters and counts read per-endpoint indexes that the worker keeps as it
dead-letters tasks. Dead letters stored by an older version have none: the first
filtered command on such an endpoint notices it (the counts do not add up) and
indexes them by itself; reindex does it ahead of time. It is idempotent, safe
while workers run, and prints indexed=N.`
	cmd.AddCommand(count, list, replay, purge, reindex)
	return cmd
}

// dlqRun is what every dlq subcommand works on.
type dlqRun struct {
	session *session
	store   *dlq.Store
	eps     []string
	filter  dlq.Filter // over eps
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
	if f.id != "" && f.given() {
		return fail(cliexit.Usage, "--id selects one dead letter: it excludes --code, --class, --type, --since, --until and --grep")
	}
	filter, err := f.filter(eps, time.Now())
	if err != nil {
		return err
	}
	return fn(cmd, f, &dlqRun{session: s, store: dlq.New(s.rdb), eps: eps, filter: filter})
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
	out := cmd.OutOrStdout()
	groups, err := d.store.CountBy(cmd.Context(), d.filter, f.by)
	if err != nil {
		return filterError(err)
	}
	if f.by != "" && f.by != dlq.ByEndpoint {
		return printGroups(out, f, groups)
	}
	byEp := map[string]int64{}
	for _, g := range groups {
		byEp[g.Key] = g.Count
	}
	var total int64
	for _, ep := range d.eps { // the configured order, as before
		n := byEp[ep]
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

// printGroups prints count --by: KEY<tab>N lines largest first and a total,
// or one {"<by>": KEY, "count": N} per line.
func printGroups(out io.Writer, f *dlqFlags, groups []dlq.Group) error {
	var total int64
	for _, g := range groups {
		total += g.Count
		if f.asJSON {
			b, _ := json.Marshal(map[string]any{f.by: g.Key, "count": g.Count})
			fmt.Fprintln(out, string(b))
			continue
		}
		key := g.Key
		if key == "" {
			key = "(none)"
		}
		fmt.Fprintf(out, "%s\t%d\n", key, g.Count)
	}
	if !f.asJSON {
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
	if f.id != "" {
		for _, ep := range eps {
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
		}
		return tw.Flush()
	}
	// Page by page (listPage at a time when printing everything), flushing
	// each, so that a million entries never sit in memory.
	cur, left := dlq.Cursor(f.after), f.limit
	for {
		size := listPage
		if f.limit > 0 {
			size = min(left, listPage)
		}
		page, err := store.ListFiltered(cmd.Context(), d.filter, cur, size)
		if err != nil {
			return filterError(err)
		}
		for _, e := range page.Entries {
			if err := emit(e); err != nil {
				return err
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		left -= len(page.Entries)
		cur = page.Next
		if cur == "" || f.limit > 0 && left <= 0 {
			break
		}
	}
	if cur != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "next=%s\n", cur)
	}
	return nil
}

// listPage is how many entries list reads per round trip.
const listPage = 500

func dlqReplay(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	ctx, store := cmd.Context(), d.store
	if f.dryRun {
		return printDryRun(cmd, f, d)
	}
	var replayed int64
	defer func() { fmt.Fprintf(cmd.OutOrStdout(), "replayed=%d\n", replayed) }()
	if f.id == "" {
		res, err := store.ReplayFilter(ctx, d.session.replayer(), d.filter)
		replayed = res.Done
		if res.Skipped > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipped=%d (no task type or payload: see dlq list)\n", res.Skipped)
		}
		if err != nil {
			return filterError(err)
		}
		return nil
	}
	for _, ep := range d.eps {
		ok, err := store.ReplayOne(ctx, d.session.replayer(), ep, f.id)
		if err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
		if ok {
			replayed++
		}
	}
	if replayed == 0 {
		return fail(cliexit.Failed, "no dead letter with id %q", f.id)
	}
	return nil
}

// printDryRun prints how many dead letters replay or purge would take: the
// count alone.
func printDryRun(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	var n int64
	if f.id != "" {
		for _, ep := range d.eps {
			if _, err := d.store.Get(cmd.Context(), ep, f.id); err == nil {
				n++
			} else if !errors.Is(err, dlq.ErrNotFound) {
				return fail(cliexit.Redis, "%v", err)
			}
		}
	} else {
		var err error
		if n, err = d.store.Total(cmd.Context(), d.filter); err != nil {
			return filterError(err)
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), n)
	return nil
}

// checkPurgeFlags refuses, before anything is opened, a purge that would
// cover every endpoint without being asked for (--all --yes) and where
// nobody can be asked (no terminal). A filter is a target.
func checkPurgeFlags(f *dlqFlags, env *Env) error {
	targeted := f.endpoint != "" || f.id != "" || f.given()
	switch {
	case f.all && f.endpoint != "":
		return fail(cliexit.Usage, "--all and --endpoint exclude each other")
	case f.all && f.id != "":
		return fail(cliexit.Usage, "--all and --id exclude each other (--id purges one dead letter)")
	case f.all && f.given():
		return fail(cliexit.Usage, "--all and the filters (--code, --class, --type, --since, --until, --grep) exclude each other")
	case targeted || f.dryRun || f.all && f.yes || env.interactive():
		return nil
	case f.all:
		return fail(cliexit.Usage, "dlq purge --all deletes the dead letters of every endpoint: add --yes to confirm (not on a terminal, so nobody can be asked)")
	}
	return fail(cliexit.Usage, "dlq purge needs a target: --endpoint E, --id ID, or --all --yes to delete the dead letters of every endpoint (or a filter: --code, --class, --type, --since, --until, --grep)")
}

func dlqPurge(cmd *cobra.Command, f *dlqFlags, d *dlqRun) error {
	ctx, store, eps := cmd.Context(), d.store, d.eps
	if f.dryRun {
		return printDryRun(cmd, f, d)
	}
	opts := dlq.PurgeOptions{KeepKeys: f.keepKeys}
	consented := f.all && f.yes // --yes alone is not consent to every endpoint
	if f.endpoint == "" && f.id == "" && !f.given() && !consented {
		ok, err := confirmPurgeAll(cmd, store, eps)
		if err != nil || !ok {
			return err
		}
	}
	var purged int64
	if f.id == "" {
		n, err := store.PurgeFilter(ctx, d.filter, opts)
		fmt.Fprintf(cmd.OutOrStdout(), "purged=%d\n", n)
		if err != nil {
			return filterError(err)
		}
		return nil
	}
	for _, ep := range eps {
		ok, err := store.PurgeOne(ctx, ep, f.id, opts)
		if err != nil {
			return fail(cliexit.Redis, "%v", err)
		}
		if ok {
			purged++
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "purged=%d\n", purged)
	if purged == 0 {
		return fail(cliexit.Failed, "no dead letter with id %q", f.id)
	}
	return nil
}

// dlqReindex rebuilds the indexes of every endpoint selected.
func dlqReindex(cmd *cobra.Command, _ *dlqFlags, d *dlqRun) error {
	var n int64
	for _, ep := range d.eps {
		m, err := d.store.Reindex(cmd.Context(), ep)
		n += m
		if err != nil {
			fmt.Fprintf(cmd.OutOrStdout(), "indexed=%d\n", n)
			return fail(cliexit.Redis, "%v", err)
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "indexed=%d\n", n)
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

// maskEntry masks phones wherever a dead letter carries them (dlq.Entry.Masked).
func maskEntry(e dlq.Entry) dlq.Entry { return e.Masked() }

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
