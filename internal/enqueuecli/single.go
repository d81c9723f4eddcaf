package enqueuecli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

func newRecordCmd(g *globals) *cobra.Command {
	var rc tasks.RecordCreate
	var data string
	cmd := &cobra.Command{
		Use:   "record --endpoint E --table T --data JSON [--key K]",
		Short: "Enqueue one record:create task and print its task ID",
		Example: `  enqueue record --endpoint forms --table APP_ID/ENTRY_ID --data '{"name":"Li"}' --key order-42
  enqueue record --endpoint tables --table article --data '{"title":"hi"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc.Data = json.RawMessage(data)
			s, err := g.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.producer.Record(cmd.Context(), rc)
			return report(cmd, res, err)
		},
	}
	cmd.Flags().StringVar(&rc.Endpoint, "endpoint", "", "endpoint name from the config (required)")
	cmd.Flags().StringVar(&rc.Table, "table", "", vendorclient.TableForms()+" (required)")
	cmd.Flags().StringVar(&data, "data", "", "the record as a JSON object (required)")
	cmd.Flags().StringVar(&rc.Key, "key", "", "idempotency key: the same key on the same endpoint is enqueued once")
	for _, f := range []string{"endpoint", "table", "data"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newSMSCmd(g *globals) *cobra.Command {
	var sm tasks.SMSSend
	var phones string
	cmd := &cobra.Command{
		Use:     "sms --endpoint E --phones P1,P2 --content TEXT --sign S [--key K]",
		Short:   "Enqueue one sms:send task and print its task ID",
		Example: `  enqueue sms --endpoint sms --phones 13800000000,13900000000 --content "您的验证码为：430237。" --sign "【示例】" --key otp-7781`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			res, err := s.producer.SMS(cmd.Context(), sm)
			return report(cmd, res, err)
		},
	}
	cmd.Flags().StringVar(&sm.Endpoint, "endpoint", "", "SMS endpoint name from the config (required)")
	cmd.Flags().StringVar(&phones, "phones", "", "comma-separated mobile numbers (required)")
	cmd.Flags().StringVar(&sm.Content, "content", "", "message text (required)")
	cmd.Flags().StringVar(&sm.Sign, "sign", "", "signature, e.g. 【公司】 (required)")
	cmd.Flags().StringVar(&sm.Subcode, "subcode", "", "extension subcode (digits)")
	cmd.Flags().StringVar(&sm.Sendtime, "sendtime", "", "scheduled send time yyyyMMddHHmm (empty = now)")
	cmd.Flags().StringVar(&sm.Key, "key", "", "idempotency key: the same key on the same endpoint is enqueued once")
	for _, f := range []string{"endpoint", "phones", "content", "sign"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// report prints the task ID (stdout) or why there is none. A duplicate is
// not an error: it prints the existing ID and says so on stderr.
func report(cmd *cobra.Command, res producer.Result, err error) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.TaskID)
	if res.Duplicate {
		fmt.Fprintf(cmd.ErrOrStderr(), "duplicate: a task with this key is already queued or was done recently (task %s)\n", res.TaskID)
	}
	return nil
}
