package enqueuecli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/jsonpos"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

func newRecordCmd(g *globals) *cobra.Command {
	var rc tasks.RecordCreate
	var data string
	var lf laneFlags
	cmd := &cobra.Command{
		Use:   "record --endpoint E --table T --data JSON|@FILE|- [--key K] [--priority P] [--at TIME|--in DURATION]",
		Short: "Enqueue one record:create task and print its task ID",
		Long: `Enqueue one record:create task and print its task ID. --data is the record
as a JSON object: inline, @FILE to read it from a file, or - to read it from
stdin (records too long for a command line; the task's limit is 256 KiB).
` + laneHelp,
		Example: `  enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data '{"name":"Li"}' --key order-42
  enqueue record --endpoint tables --table article --data '{"title":"hi"}'
  enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data @record.json
  jq -c .record order.json | enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data -
  enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data '{"name":"Li"}' --priority high
  enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data '{"name":"Li"}' --in 2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			l, err := lf.resolve(cmd.Flags(), now)
			if err != nil {
				return err
			}
			rc.Priority = l.priority
			b, err := readData(data, g.env.Stdin)
			if err != nil {
				return err
			}
			if err := checkJSON(b); err != nil {
				return err
			}
			rc.Data = json.RawMessage(b)
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.producer.Record(cmd.Context(), rc, l.opts...)
			return report(cmd, res, err, l, now)
		},
	}
	cmd.Flags().StringVar(&rc.Endpoint, "endpoint", "", "endpoint name from the config (required)")
	cmd.Flags().StringVar(&rc.Table, "table", "", vendorclient.TableForms()+" (required)")
	cmd.Flags().StringVar(&data, "data", "", "the record as a JSON object, @FILE or - (stdin) (required)")
	cmd.Flags().StringVar(&rc.Key, "key", "", "idempotency key: the same key on the same endpoint is enqueued once")
	lf.add(cmd.Flags(), tasks.PriorityDefault, "")
	for _, f := range []string{"endpoint", "table", "data"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newSMSCmd(g *globals) *cobra.Command {
	var sm tasks.SMSSend
	var phones string
	var lf laneFlags
	cmd := &cobra.Command{
		Use:   "sms --endpoint E --phones P1,P2 --content TEXT --sign S [--key K] [--priority P] [--at TIME|--in DURATION]",
		Short: "Enqueue one sms:send task and print its task ID",
		Long:  "Enqueue one sms:send task and print its task ID.\n" + laneHelp,
		Example: `  enqueue sms --endpoint sms --phones 13800000000,13900000000 --content "您的验证码为：430237。" --sign "【示例】" --key otp-7781 --priority high
  enqueue sms --endpoint sms --phones 13800000000 --content "周末特惠……拒收请回复R" --sign "【示例】" --priority low --at 2026-12-05T10:00:00+08:00`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			l, err := lf.resolve(cmd.Flags(), now)
			if err != nil {
				return err
			}
			sm.Priority = l.priority
			for _, p := range strings.Split(phones, ",") {
				if p = strings.TrimSpace(p); p != "" {
					sm.Phones = append(sm.Phones, p)
				}
			}
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.producer.SMS(cmd.Context(), sm, l.opts...)
			return report(cmd, res, err, l, now)
		},
	}
	cmd.Flags().StringVar(&sm.Endpoint, "endpoint", "", "SMS endpoint name from the config (required)")
	cmd.Flags().StringVar(&phones, "phones", "", "comma-separated mobile numbers (required)")
	cmd.Flags().StringVar(&sm.Content, "content", "", "message text (required)")
	cmd.Flags().StringVar(&sm.Sign, "sign", "", "signature, e.g. 【公司】 (required)")
	cmd.Flags().StringVar(&sm.Subcode, "subcode", "", "extension subcode (digits)")
	cmd.Flags().StringVar(&sm.Sendtime, "sendtime", "", "scheduled send time yyyyMMddHHmm (empty = now)")
	cmd.Flags().StringVar(&sm.Key, "key", "", "idempotency key: the same key on the same endpoint is enqueued once")
	lf.add(cmd.Flags(), tasks.PriorityDefault, "")
	for _, f := range []string{"endpoint", "phones", "content", "sign"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// readData resolves --data: inline JSON, @FILE or - (stdin). More than
// the payload limit is not read: the task would be refused anyway.
func readData(data string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	var from string
	switch {
	case data == "-":
		r, from = stdin, "stdin"
	case strings.HasPrefix(data, "@"):
		f, err := os.Open(data[1:])
		if err != nil {
			return nil, fail(cliexit.Usage, "--data %s: %v", data, err)
		}
		defer f.Close()
		r, from = f, data[1:]
	default:
		return []byte(data), nil
	}
	b, err := io.ReadAll(io.LimitReader(r, tasks.MaxPayloadBytes+1))
	if err != nil {
		return nil, fail(cliexit.Usage, "--data: reading %s: %v", from, err)
	}
	if len(b) > tasks.MaxPayloadBytes {
		return nil, &tasks.FieldError{Field: "data", Reason: fmt.Sprintf("%s holds more than the %d-byte payload limit", from, tasks.MaxPayloadBytes)}
	}
	return b, nil
}

// checkJSON says where malformed JSON breaks (line, column, byte offset),
// as the HTTP API does; well-formed JSON is left to the task's own rules
// (a JSON object, UTF-8).
func checkJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	bad := func(reason string) error {
		return &tasks.FieldError{Field: "data", Reason: "malformed JSON: " + reason}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v json.RawMessage
	err := dec.Decode(&v)
	var syn *json.SyntaxError
	switch {
	case err == nil:
		end := dec.InputOffset()
		rest := bytes.TrimLeft(b[min(end, int64(len(b))):], " \t\r\n")
		return bad("unexpected data after the JSON value " + jsonpos.Where(b, int64(len(b)-len(rest))))
	case errors.Is(err, io.EOF):
		return nil // blank: "is required"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("truncated, input ends " + jsonpos.Where(b, int64(len(b))))
	case errors.As(err, &syn):
		return bad(fmt.Sprintf("%v %s", syn, jsonpos.Where(b, syn.Offset-1)))
	}
	return bad(err.Error())
}

// report prints the task ID (stdout) or why there is none. A duplicate is
// not an error: it prints the existing ID and says so on stderr (the task
// already there keeps its own lane and time). A held task says when it
// runs, on stderr.
func report(cmd *cobra.Command, res producer.Result, err error, l lane, now time.Time) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.TaskID)
	if res.Duplicate {
		fmt.Fprintf(cmd.ErrOrStderr(), "duplicate: a task with this key is already queued or was done recently (task %s)\n", res.TaskID)
		return nil
	}
	noteHold(cmd.ErrOrStderr(), l, now)
	return nil
}
