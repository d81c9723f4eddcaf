package enqueuecli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/importer"
	"github.com/vendorq/vendorq/tasks"
)

func init() { extraCommands = append(extraCommands, newBatchCmd) }

// startBatch creates the import's batch (internal/batch), kept for the
// config's results.retention after its last activity.
// With notify, the batch's counts are POSTed there once every task ended
// (docs/batches.md); that needs results.notify_secret.
func startBatch(ctx context.Context, s *session, o *importer.Options, path, notify string) (*batch.Tracker, error) {
	if notify != "" {
		if err := batch.CheckURL(notify); err != nil {
			return nil, fail(cliexit.Usage, "--notify: %v", err)
		}
		if s.cfg.Results.NotifySecret == "" {
			return nil, fail(cliexit.Usage, "--notify needs results.notify_secret in the config (the workers sign the webhook with it too)")
		}
	}
	typ := tasks.TypeRecordCreate
	if o.Type == importer.TypeSMS {
		typ = tasks.TypeSMSSend
	}
	t, err := batch.Start(ctx, s.rdb, batch.Meta{Endpoint: o.Endpoint, Type: typ, Source: path, Priority: string(o.Priority), Notify: notify}, s.cfg.Results.Retention)
	if err != nil {
		return nil, fail(cliexit.Redis, "%v", err)
	}
	return t, nil
}

// sealBatch tells the batch that no more rows come, after an import that
// read its whole input (an interrupted one can be re-run: its batch then
// never completes, and sends no webhook). When every task had already
// ended, the webhook is the import's to send.
func sealBatch(ctx context.Context, stderr io.Writer, s *session, t *batch.Tracker, runErr error) {
	if runErr != nil {
		return
	}
	c, complete, err := t.Seal(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "batch %s: %v (its counts stand; no completion webhook)\n", t.ID(), err)
	case complete:
		n := batch.Notifier{Secret: []byte(s.cfg.Results.NotifySecret), Attempts: 3}
		if err := n.Send(ctx, c); err != nil {
			fmt.Fprintf(stderr, "batch %s complete; its webhook failed: %v\n", t.ID(), err)
		}
	}
}

func newBatchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batch status|report ID",
		Short: "Follow an import batch: its counts, or one line per imported row",
		Long: `Every "enqueue import" run (and every HTTP batch request) has a batch id,
printed in its summary line (batch=ID). A batch is kept for the config's
results.retention (default 7 days) after its last activity.

Exit codes: 0 ok; 1 no such batch; 2 usage or config error; 3 Redis unreachable.`,
	}
	groupOnly(cmd, true)
	var asJSON bool
	status := &cobra.Command{
		Use:   "status ID [--json]",
		Short: "Counts by state, the rate and an estimate of the time left",
		Long: `status prints the batch's counts in one line:

  batch=ID endpoint=E enqueued=N duplicates=D done=X dead=Y pending=Z rate=R/s eta=T

enqueued counts the tasks the batch put on the queue, duplicates the rows
whose task was already in (a re-run of the same file, or a row repeated in
it); done and dead count the batch's tasks that ended so; pending is the
rest (scheduled, queued, running or retrying). rate is tasks ended per
second since the first one ended, and eta (while tasks remain) the time left
at that rate. It reads one Redis hash, whatever the batch's size.
--json prints the same as one JSON object.`,
		Example: `  enqueue batch status k3x9w2m1q8ab
  enqueue batch status k3x9w2m1q8ab --json`,
		Args: exactID,
		RunE: func(cmd *cobra.Command, args []string) error { return g.batchStatus(cmd, args[0], asJSON) },
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	report := &cobra.Command{
		Use:   "report ID",
		Short: "One JSON object per imported row: line, task id, state, vendor id or code",
		Long: `report prints one JSON object per row the batch imported, in line order:

  {"line":2,"task_id":"imp:…","state":"done","vendor_id":"…"}
  {"line":3,"task_id":"imp:…","state":"dead","code":"4001"}
  {"line":4,"task_id":"imp:…","state":"pending"}

state is scheduled, pending, active, retry, done or dead (unknown when
nothing is left of the task: its result expired). A row whose task was
already in carries "duplicate":true and the state of that task. It streams:
memory stays bounded whatever the batch's size. Rejected rows are in the
import's rejects file, not here.`,
		Example: `  enqueue batch report k3x9w2m1q8ab > report.jsonl
  enqueue batch report k3x9w2m1q8ab | grep '"state":"dead"'`,
		Args: exactID,
		RunE: func(cmd *cobra.Command, args []string) error { return g.batchReport(cmd, args[0]) },
	}
	cmd.AddCommand(status, report)
	return cmd
}

func exactID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fail(cliexit.Usage, "%s needs one batch ID (from the import's summary line batch=ID)", cmd.CommandPath())
	}
	if !tasks.ValidBatchID(args[0]) {
		return fail(cliexit.Usage, "%q is not a batch id (1 to 32 characters of [a-z0-9])", args[0])
	}
	return nil
}

func (g *globals) batchStatus(cmd *cobra.Command, id string, asJSON bool) error {
	s, err := g.open(cmd.Context())
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := batch.Get(cmd.Context(), s.rdb, id, time.Now())
	if err != nil {
		return batchErr(err)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(st)
	}
	_, err = fmt.Fprintln(out, st)
	return err
}

func (g *globals) batchReport(cmd *cobra.Command, id string) error {
	s, err := g.open(cmd.Context())
	if err != nil {
		return err
	}
	defer s.Close()
	w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	enc := json.NewEncoder(w)
	err = batch.Report(cmd.Context(), s.rdb, id, func(r batch.Row) error {
		r.TaskID = tasks.MaskPhones(r.TaskID)
		return enc.Encode(r)
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return batchErr(err)
	}
	return nil
}

// batchErr maps a batch read error to its exit code.
func batchErr(err error) error {
	if errors.Is(err, batch.ErrNotFound) {
		return fail(cliexit.Failed, "%v (never created, or older than results.retention)", err)
	}
	return fail(cliexit.Redis, "%v", err)
}
