package enqueuecli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/tasks"
)

// A dead SMS whose id, error and payload all carry phones, among them a
// JSON number and the +86 and full-width forms.
func addPhoneDeadLetter(t *testing.T, r *cliRig) {
	t.Helper()
	payload := `{"endpoint":"sms","phones":["13812345678","+86 139 8765 4321","１５０１１１１２２２２"],"extra":{"mobile":18612345678},"sent_at":1700000000000}`
	now := time.Now()
	e := dlq.Entry{ID: "sms-13812345678", Type: tasks.TypeSMSSend, Endpoint: "sms", Error: "gateway: 13812345678 is blacklisted (code 4003)",
		Class: "permanent", Code: "4003", Attempts: 1, FirstAttempt: now, LastAttempt: now, Payload: json.RawMessage(payload)}
	if err := dlq.New(r.rdb).Add(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

var fullPhones = []string{"13812345678", "13987654321", "8765 4321", "１５０１１１１２２２２", "18612345678"}

func TestDLQListMasksPhones(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addPhoneDeadLetter(t, r)
	for _, args := range [][]string{{"--json"}, {}} {
		code, out, errs := cli(t, append([]string{"dlq", "list", "--config", r.cfg, "--endpoint", "sms"}, args...)...)
		if code != 0 {
			t.Fatalf("list %v: exit %d: %s", args, code, errs)
		}
		if tasks.ContainsPhone([]byte(out)) {
			t.Fatalf("list %v prints a phone:\n%s", args, out)
		}
		for _, p := range fullPhones {
			if strings.Contains(out, p) {
				t.Fatalf("list %v prints %q:\n%s", args, p, out)
			}
		}
		if !strings.Contains(out, "sms-138****5678") || !strings.Contains(out, "138****5678 is blacklisted") {
			t.Fatalf("list %v: id or error not shown masked:\n%s", args, out)
		}
	}
	_, out, _ := cli(t, "dlq", "list", "--config", r.cfg, "--endpoint", "sms", "--json")
	var e dlq.Entry
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("list --json is not one JSON object: %v\n%s", err, out)
	}
	var p struct {
		Phones []string
		Extra  struct{ Mobile any }
		SentAt int64 `json:"sent_at"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatal(err)
	}
	want := []string{"138****5678", "+86 139 **** 4321", "１５０****２２２２"}
	if strings.Join(p.Phones, "|") != strings.Join(want, "|") || p.Extra.Mobile != "186****5678" || p.SentAt != 1700000000000 {
		t.Fatalf("payload masked as %+v", p)
	}
}

func TestDLQListShowPhones(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addPhoneDeadLetter(t, r)
	for _, args := range [][]string{{"--json"}, {}} {
		code, out, errs := cli(t, append([]string{"dlq", "list", "--config", r.cfg, "--endpoint", "sms", "--show-phones"}, args...)...)
		if code != 0 {
			t.Fatalf("list %v: exit %d: %s", args, code, errs)
		}
		if !strings.Contains(out, "sms-13812345678") || !strings.Contains(out, "13812345678 is blacklisted") {
			t.Fatalf("list --show-phones %v hides phones:\n%s", args, out)
		}
		if len(args) > 0 && !strings.Contains(out, `"mobile":18612345678`) {
			t.Fatalf("list --show-phones --json changed the payload:\n%s", out)
		}
	}
	_, help, _ := cli(t, "dlq", "list", "--help")
	if !strings.Contains(help, "--show-phones") || !strings.Contains(help, "PII") {
		t.Fatalf("list --help does not warn about --show-phones:\n%s", help)
	}
}
