package enqueuecli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/importer"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

func init() { extraCommands = append(extraCommands, newImportCmd) }

type importFlags struct {
	endpoint, table, typ, keyColumn, format, rejects string
	notify                                           string // --notify URL (batch.go)
	concurrency                                      int
	lane                                             laneFlags // --priority (default low), --at, --in (lanes.go)
}

func newImportCmd(g *globals) *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import --endpoint E [--table T] [--type record|sms] [--key-column C] [--format csv|jsonl] [--rejects PATH] [--priority P] [--at TIME|--in DURATION] FILE|-",
		Short: "Stream a CSV or JSONL file onto an endpoint's queue",
		Long: `import reads FILE (or stdin for "-") row by row and enqueues one task per row.

Formats (from the extension, or --format; stdin needs --format):
  .csv            a header row, then one row per task. record: every column is
                  a string field of the data object. sms: columns phones, content,
                  sign, subcode, sendtime (phones and content required); several
                  phones in one cell are separated by ";", "|" or spaces.
  .jsonl/.ndjson  one JSON object per line. record: the line is the data object.
                  sms: {"phones":[...],"content":..,"sign":..,"subcode":..,"sendtime":..}
                  with an optional "key"; no "endpoint" (it comes from --endpoint).

Every row gets an idempotency key: the --key-column value, or by default a
hash of the endpoint, type, table and the row's content. A key that is still
queued, or finished within the config's dedupe.window (default 7 days), is
counted as a duplicate, not enqueued: running the same import again enqueues
nothing new, and a re-run after Ctrl-C or a Redis failure finishes the rest.

A row that fails validation (not UTF-8, wrong column count, bad phone, empty
required field or key, invalid JSON, payload over 256 KiB) is never enqueued:
it goes to the rejects file as {"line","reason","raw"} and the rest go on.
The file is FILE.rejects.jsonl (stdin.rejects.jsonl for stdin) unless
--rejects says otherwise; it is only written when a row is rejected.

On a terminal stderr shows a progress bar. stdout gets one summary line:
  enqueued=N duplicates=D rejected=R batch=ID
Follow the batch with "enqueue batch status ID"; "enqueue batch report ID"
prints one JSON object per imported row (line, task id, state, vendor id
or code). A re-run of the same file gets a new batch id whose rows are all
duplicates: its report shows the state of the tasks already in.

Every row goes to the --priority lane, low unless said otherwise: a batch
never delays interactive traffic. With --at or --in no row runs before
that time. A re-run with another --priority or time finds the rows
already queued as duplicates; they keep their lane and time.

Exit codes: 0 all rows in (or duplicates); 1 some rows rejected; 2 usage,
config or unreadable input; 3 Redis unreachable or failed mid-way;
130 interrupted (Ctrl-C/SIGTERM). On 3 and 130 the summary still says what
was enqueued and stderr says from which line a re-run has work left.`,
		Example: `  enqueue import --endpoint forms --table APP_ID/ENTRY_ID customers.csv
  enqueue import --endpoint forms --table APP_ID/ENTRY_ID --key-column order_id orders.csv
  enqueue import --endpoint sms messages.jsonl
  enqueue import --endpoint sms --at 2026-12-05T10:00:00+08:00 campaign.csv
  gunzip -c big.csv.gz | enqueue import --endpoint tables --table article --format csv --rejects big.rejects.jsonl -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return g.runImport(cmd, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "endpoint name from the config (required)")
	fl.StringVar(&f.table, "table", "", "record imports: "+vendorclient.TableForms())
	fl.StringVar(&f.typ, "type", "", "record or sms (default: sms for an SMS endpoint, else record)")
	fl.StringVar(&f.keyColumn, "key-column", "", "CSV column / JSONL field holding each row's business key (default: a hash of the row)")
	fl.StringVar(&f.format, "format", "", "csv or jsonl (default: from the file extension; required for -)")
	fl.StringVar(&f.rejects, "rejects", "", "where rejected rows go (default FILE.rejects.jsonl, or stdin.rejects.jsonl)")
	fl.IntVar(&f.concurrency, "concurrency", importer.DefaultConcurrency, "concurrent enqueue workers")
	f.lane.add(fl, tasks.PriorityLow, " (an import: low by default)")
	fl.StringVar(&f.notify, "notify", "", "POST the batch's counts to this URL once every task ended (signed with results.notify_secret; docs/batches.md)")
	_ = cmd.MarkFlagRequired("endpoint")
	return cmd
}

func (g *globals) runImport(cmd *cobra.Command, f *importFlags, path string) error {
	ctx := cmd.Context()
	now := time.Now()
	l, err := f.lane.resolve(cmd.Flags(), now)
	if err != nil {
		return err
	}
	format, err := importer.FormatFor(f.format, path)
	if err != nil {
		return cliexit.Wrap(cliexit.Usage, err)
	}
	in, size, closeIn, err := openInput(g.env, path)
	if err != nil {
		return fail(cliexit.Usage, "%v", err)
	}
	defer closeIn()
	rejects := f.rejects
	if rejects == "" {
		rejects = path + ".rejects.jsonl"
		if path == "-" {
			rejects = "stdin.rejects.jsonl"
		}
	}
	if sameFile(path, rejects) {
		return fail(cliexit.Usage, "--rejects %s is the input file", rejects)
	}
	s, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	opts := importer.Options{
		Endpoint: f.endpoint, Type: importer.Type(f.typ), Table: f.table, KeyColumn: f.keyColumn,
		Format: format, Concurrency: f.concurrency, Priority: l.priority, Hold: l.opts,
	}
	if err := opts.Resolve(s.cfg); err != nil {
		return cliexit.Wrap(cliexit.Usage, err)
	}
	tracker, err := startBatch(ctx, s, &opts, path, f.notify)
	if err != nil {
		return err
	}
	rf := &importer.RejectFile{Path: rejects}
	opts.Rejects = rf
	if g.env.IsTerminal(g.env.Stderr) {
		opts.Progress = importer.NewBar(g.env.Stderr, size).Update
	}
	opts.Track = tracker
	bulk, release := s.producer.Bulk() // deep pipelines for the rows (internal/producer/bulk.go)
	sum, err := importer.Run(ctx, in, bulk, opts)
	release()
	sealBatch(ctx, cmd.ErrOrStderr(), s, tracker, err)
	cerr := rf.Close()
	fmt.Fprintln(cmd.OutOrStdout(), sum)
	noteHold(cmd.ErrOrStderr(), l, now)
	if rf.Count() > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "rejected rows: %s (one JSON object per line: line, reason, raw)\n", rejects)
	}
	return importExit(sum, err, cerr, rejects)
}

// importExit picks the exit code; the summary is already printed.
func importExit(sum importer.Summary, err, cerr error, rejects string) error {
	switch {
	case errors.Is(err, producer.ErrRedis):
		return fail(cliexit.Redis, "%v; rows before line %d are in: re-run the same command once Redis is back to finish (rows already in count as duplicates)", err, sum.ResumeLine)
	case errors.Is(err, importer.ErrInterrupted):
		return fail(cliexit.Interrupted, "interrupted: rows before line %d are in; re-run the same command to finish (rows already in count as duplicates)", sum.ResumeLine)
	case err != nil:
		return cliexit.Wrap(cliexit.Usage, err)
	case cerr != nil:
		return cliexit.Wrap(cliexit.Usage, cerr)
	case sum.Rejected > 0:
		return fail(cliexit.Failed, "%d rows rejected; see %s", sum.Rejected, rejects)
	}
	return nil
}

// openInput opens FILE, or stdin for "-"; size is 0 when unknown.
func openInput(env *Env, path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		var size int64
		if f, ok := env.Stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				size = st.Size() // enqueue import - < file
			}
		}
		return env.Stdin, size, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		_ = f.Close()
		return nil, 0, nil, fmt.Errorf("%s: not a readable file", path)
	}
	return f, st.Size(), func() { _ = f.Close() }, nil
}

func sameFile(a, b string) bool {
	if a == "-" {
		return false
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
