package enqueuecli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// addDeadKeyed stores n dead letters of ep whose ids are keyed tasks, and
// their dedupe markers (as the worker leaves them).
func addDeadKeyed(t *testing.T, r *cliRig, ep string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for i, id := range ids {
		p, _ := json.Marshal(tasks.RecordCreate{Endpoint: ep, Table: "a/b", Data: json.RawMessage(`{}`), Key: id})
		now := time.Now().Add(time.Duration(i) * time.Millisecond)
		e := dlq.Entry{ID: id, Type: tasks.TypeRecordCreate, Endpoint: ep, Error: "bad", Class: "permanent", Code: "4001", Attempts: 1, FirstAttempt: now, LastAttempt: now, Payload: p}
		if err := dlq.New(r.rdb).Add(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := r.rdb.Set(ctx, keys.Dedupe(ep, id), "1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *cliRig) deadCount(t *testing.T, ep string) int64 {
	t.Helper()
	n, err := dlq.New(r.rdb).Count(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every usage error exits 2, says what is wrong and, for a typo, what was
// meant; none of them deletes anything.
func TestUsageErrorsExit2(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addDeadKeyed(t, r, "forms", "f1", "f2")
	cfg := []string{"--config", r.cfg}
	with := func(args ...string) []string { return append(args, cfg...) }
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown command", []string{"recrd"}, `unknown command "recrd" for "enqueue"; did you mean "record"?`},
		{"unknown dlq command", []string{"dlq", "replya"}, `unknown command "replya" for "enqueue dlq"; did you mean "replay"?`},
		{"unknown dlq command, no match", []string{"dlq", "zzzzzz"}, `unknown command "zzzzzz" for "enqueue dlq"; commands: count, list, purge, reindex, replay`},
		{"dlq without command", []string{"dlq"}, `"enqueue dlq" needs a command`},
		{"extra argument", with("dlq", "count", "extra"), `unknown command "extra"`},
		{"record argument", with("record", "x", "--endpoint", "forms", "--table", "a/b", "--data", "{}"), `unknown command "x"`},
		{"unknown flag", []string{"dlq", "list", "--nope"}, "unknown flag: --nope"},
		{"bad flag value", with("dlq", "list", "--limit", "x"), "--limit"},
		{"missing flag", with("record", "--endpoint", "forms"), "required flag"},
		{"count unknown endpoint", with("dlq", "count", "--endpoint", "nope"), `unknown endpoint "nope" (configured: forms, gjy, sms, tables)`},
		{"list unknown endpoint", with("dlq", "list", "--endpoint", "form"), `unknown endpoint "form" (configured: forms, gjy, sms, tables); did you mean "forms"?`},
		{"replay unknown endpoint", with("dlq", "replay", "--endpoint", "tabels"), `did you mean "tables"?`},
		{"purge unknown endpoint", with("dlq", "purge", "--endpoint", "fomrs"), `did you mean "forms"?`},
		{"purge without target", with("dlq", "purge"), "needs a target: --endpoint E, --id ID, or --all --yes"},
		{"purge --all without --yes", with("dlq", "purge", "--all"), "add --yes"},
		{"purge --yes without --all", with("dlq", "purge", "--yes"), "needs a target"},
		{"purge --all --endpoint", with("dlq", "purge", "--all", "--yes", "--endpoint", "forms"), "exclude each other"},
		{"purge --all --id", with("dlq", "purge", "--all", "--yes", "--id", "f1"), "exclude each other"},
		{"data file missing", with("record", "--endpoint", "forms", "--table", "a/b", "--data", "@/nonexistent/record.json"), "/nonexistent/record.json"},
		{"bad config", []string{"dlq", "count", "--config", "/nonexistent.yaml"}, "nonexistent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := cli(t, c.args...)
			if code != cliexit.Usage || !strings.Contains(errs, c.msg) {
				t.Fatalf("exit %d (want 2), stderr %q (want %q)", code, errs, c.msg)
			}
			if strings.Contains(out, "Usage:") || strings.Contains(out, "purged=") {
				t.Fatalf("a usage error printed help or purged:\n%s", out)
			}
		})
	}
	if n := r.deadCount(t, "forms"); n != 2 {
		t.Fatalf("the refused commands left %d of 2 dead letters", n)
	}
	// Help stays help: exit 0.
	for _, args := range [][]string{{}, {"help"}, {"dlq", "--help"}, {"dlq", "purge", "--help"}} {
		if code, out, errs := cli(t, args...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// A dead letter of an endpoint no longer configured is still reachable.
func TestDLQEndpointNoLongerConfigured(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addDeadKeyed(t, r, "retired", "r1")
	if code, out, errs := cli(t, "dlq", "count", "--config", r.cfg, "--endpoint", "retired"); code != 0 || out != "1\n" {
		t.Fatalf("count of a retired endpoint: exit %d, %q, %q", code, out, errs)
	}
}

// Without --endpoint/--id, purge asks on a terminal (and needs a yes),
// needs --all --yes elsewhere.
func TestPurgeEverythingNeedsConsent(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addDeadKeyed(t, r, "forms", "f1", "f2")
	addDeadKeyed(t, r, "sms", "s1")
	total := func() int64 { return r.deadCount(t, "forms") + r.deadCount(t, "sms") }
	base := []string{"dlq", "purge", "--config", r.cfg}

	if code, _, errs := cliIn(t, strings.NewReader("y\n"), false, base...); code != cliexit.Usage || !strings.Contains(errs, "--all --yes") {
		t.Fatalf("not on a terminal: exit %d, %q", code, errs)
	}
	for _, answer := range []string{"n\n", "\n", "", "nope\n", "yess\n"} {
		code, out, errs := cliIn(t, strings.NewReader(answer), true, base...)
		if code != cliexit.Failed || !strings.Contains(errs, "purge 3 dead letters of every endpoint? [y/N]") || !strings.Contains(errs, "nothing deleted") || out != "" {
			t.Fatalf("answer %q: exit %d, stdout %q, stderr %q", answer, code, out, errs)
		}
		if n := total(); n != 3 {
			t.Fatalf("answer %q deleted: %d of 3 left", answer, n)
		}
	}
	// --yes alone is not --all --yes: still asked; --all alone is asked too.
	for _, extra := range [][]string{{"--yes"}, {"--all"}} {
		code, out, errs := cliIn(t, strings.NewReader("n\n"), true, append(base, extra...)...)
		if code != cliexit.Failed || !strings.Contains(errs, "[y/N]") || total() != 3 {
			t.Fatalf("%v on a terminal: exit %d, stdout %q, stderr %q, %d of 3 left", extra, code, out, errs, total())
		}
	}
	if code, out, errs := cliIn(t, strings.NewReader("Y\n"), true, base...); code != 0 || out != "purged=3\n" || !strings.Contains(errs, "[y/N]") {
		t.Fatalf("answer y: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if n := total(); n != 0 {
		t.Fatalf("after yes: %d left", n)
	}

	addDeadKeyed(t, r, "forms", "f3")
	addDeadKeyed(t, r, "gjy", "g1")
	// --all --yes: no question, on a terminal or not.
	if code, out, errs := cliIn(t, strings.NewReader(""), false, append(base, "--all", "--yes")...); code != 0 || out != "purged=2\n" || strings.Contains(errs, "[y/N]") {
		t.Fatalf("--all --yes: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	addDeadKeyed(t, r, "forms", "f4")
	if code, out, errs := cliIn(t, strings.NewReader(""), true, append(base, "--all", "--yes")...); code != 0 || out != "purged=1\n" || errs != "" {
		t.Fatalf("--all --yes on a terminal: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// A terminal and nothing to purge: nothing to ask.
	if code, out, errs := cliIn(t, strings.NewReader(""), true, base...); code != 0 || out != "purged=0\n" || errs != "" {
		t.Fatalf("nothing to purge: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// A target needs no consent.
	addDeadKeyed(t, r, "forms", "f5")
	if code, out, errs := cliIn(t, strings.NewReader(""), false, append(base, "--endpoint", "forms")...); code != 0 || out != "purged=1\n" {
		t.Fatalf("--endpoint: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// A purged task's key is free again (its fixed task is enqueued, not taken
// for a duplicate), unless --keep-keys; --id purges one dead letter.
func TestPurgeUnblocksKeys(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addDeadKeyed(t, r, "forms", "k1", "k2", "k3")
	addDeadKeyed(t, r, "tables", "t1")
	record := func(key string) (int, string, string) {
		return cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"fixed":true}`, "--key", key)
	}
	if code, _, errs := record("k1"); code != 0 || !strings.Contains(errs, "duplicate") {
		t.Fatalf("before the purge k1 should be blocked: exit %d, %q", code, errs)
	}
	// --id: one dead letter, its key unblocked; the others stay blocked.
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--endpoint", "forms", "--id", "k1"); code != 0 || out != "purged=1\n" {
		t.Fatalf("purge --id: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := record("k1"); code != 0 || out != "k1\n" || strings.Contains(errs, "duplicate") {
		t.Fatalf("k1 after purge --id: exit %d, %q, %q; want enqueued", code, out, errs)
	}
	if code, _, errs := record("k2"); code != 0 || !strings.Contains(errs, "duplicate") {
		t.Fatalf("k2 was not purged and should stay blocked: exit %d, %q", code, errs)
	}
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--endpoint", "forms", "--id", "nope"); code != cliexit.Failed || out != "purged=0\n" || !strings.Contains(errs, `no dead letter with id "nope"`) {
		t.Fatalf("purge --id of no dead letter: exit %d, %q, %q", code, out, errs)
	}
	// --keep-keys: gone from the DLQ, key still blocked.
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--endpoint", "forms", "--id", "k2", "--keep-keys"); code != 0 || out != "purged=1\n" {
		t.Fatalf("purge --keep-keys: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := record("k2"); code != 0 || !strings.Contains(errs, "duplicate") {
		t.Fatalf("k2 after --keep-keys should stay blocked: exit %d, %q", code, errs)
	}
	// A whole endpoint.
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--endpoint", "forms"); code != 0 || out != "purged=1\n" {
		t.Fatalf("purge --endpoint: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := record("k3"); code != 0 || out != "k3\n" || strings.Contains(errs, "duplicate") {
		t.Fatalf("k3 after purge: exit %d, %q, %q; want enqueued", code, out, errs)
	}
	if qi, err := r.in.GetQueueInfo("forms"); err != nil || qi.Pending != 2 {
		t.Fatalf("forms queue: %+v, %v; want k1 and k3 pending", qi, err)
	}
	// Another endpoint's marker is untouched.
	if n, _ := r.rdb.Exists(context.Background(), keys.Dedupe("tables", "t1")).Result(); n != 1 {
		t.Fatal("purging forms unblocked a key of tables")
	}
	// --id without --endpoint: wherever it is.
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--id", "t1"); code != 0 || out != "purged=1\n" {
		t.Fatalf("purge --id without --endpoint: exit %d, %q, %q", code, out, errs)
	}
	if n, _ := r.rdb.Exists(context.Background(), keys.Dedupe("tables", "t1")).Result(); n != 0 {
		t.Fatal("purge --id t1 kept its marker")
	}
	_, help, _ := cli(t, "dlq", "purge", "--help")
	for _, want := range []string{"--keep-keys", "--all", "--yes", "dedupe"} {
		if !strings.Contains(help, want) {
			t.Errorf("purge --help lacks %q:\n%s", want, help)
		}
	}
}

func TestClosest(t *testing.T) {
	eps := []string{"forms", "gjy", "sms", "tables"}
	for in, want := range map[string]string{"form": "forms", "fomrs": "forms", "sm": "sms", "tabels": "tables", "nope": "", "x": "", "FORMS": "forms"} {
		if got := closest(in, eps); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := editDistance("replya", "replay"); d != 2 {
		t.Errorf("editDistance = %d", d)
	}
}
