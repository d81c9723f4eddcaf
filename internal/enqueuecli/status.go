package enqueuecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/taskstate"
	"github.com/vendorq/vendorq/tasks"
)

func init() { extraCommands = append(extraCommands, newStatusCmd) }

func newStatusCmd(g *globals) *cobra.Command {
	var endpoint string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status TASK_ID [--endpoint E] [--json]",
		Short: "What became of a task: its state, failures, times and result",
		Long: `status prints what is known of one task (the id enqueue record|sms printed,
or a row's task_id in "enqueue batch report"):

  state       scheduled, pending, active, retry, done or dead
  priority    its lane
  failures    failed vendor calls, and the last error and vendor code
  times       first and last attempt, next attempt (scheduled, retry), finished
  result      for a done task: the vendor's record id, or per phone the
              msgid of an SMS (phones masked)

A done task's result is kept for the config's results.retention (default 7
days); a dead one stays in the dead-letter queue until replayed or purged.
Without --endpoint every configured endpoint is searched. --json prints one
JSON object.

Exit codes: 0 found; 1 unknown task; 2 usage or config error; 3 Redis unreachable.`,
		Example: `  enqueue status order-42
  enqueue status order-42 --endpoint forms --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return fail(cliexit.Usage, "status needs one TASK_ID (what enqueue record|sms printed)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return g.status(cmd, args[0], endpoint, asJSON) },
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "look on this endpoint only (default: every configured endpoint)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func (g *globals) status(cmd *cobra.Command, id, endpoint string, asJSON bool) error {
	ctx := cmd.Context()
	s, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	eps := s.cfg.EndpointNames()
	if endpoint != "" {
		if _, err := s.cfg.Endpoint(endpoint); err != nil {
			return fail(cliexit.Usage, "--endpoint: %v", err)
		}
		eps = []string{endpoint}
	}
	in := asynq.NewInspectorFromRedisClient(s.rdb)
	info, err := taskstate.Lookup(ctx, taskstate.Source{Redis: s.rdb, Inspector: in}, eps, id)
	switch {
	case errors.Is(err, taskstate.ErrNotFound):
		return fail(cliexit.Failed, "unknown task %s on %s (never enqueued there, or its result is older than results.retention)", tasks.MaskPhones(id), strings.Join(eps, ", "))
	case err != nil:
		return fail(cliexit.Redis, "%v", err)
	}
	info.ID = tasks.MaskPhones(info.ID)
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(info)
	}
	printInfo(out, info)
	return nil
}

// printInfo is the plain form: one "name: value" line per known fact.
func printInfo(w io.Writer, in taskstate.Info) {
	line := func(name, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-13s %s\n", name+":", v)
		}
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	line("task", in.ID)
	line("endpoint", in.Endpoint)
	line("type", in.Type)
	line("state", in.State)
	line("priority", in.Priority)
	line("failures", fmt.Sprint(in.Failures))
	line("last error", in.LastError)
	line("last code", in.LastCode)
	line("first call", at(in.FirstCall))
	line("last attempt", at(in.LastAttempt))
	line("next attempt", at(in.NextAttempt))
	line("finished", at(in.Finished))
	if in.Batch != "" {
		line("batch", fmt.Sprintf("%s line %d", in.Batch, in.Line))
	}
	if r := in.Result; r != nil {
		line("vendor id", r.VendorID)
		line("warning", r.Warning)
		for _, p := range r.Phones {
			line("msgid", p.Phone+" "+p.MsgID)
		}
	}
}
