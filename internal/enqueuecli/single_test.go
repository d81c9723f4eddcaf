package enqueuecli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

// cli runs the command with buffers and returns exit code, stdout, stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Main(ctx, args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

type cliRig struct {
	cfg string
	url string
	in  *asynq.Inspector
	rdb redis.UniversalClient
}

func newCLIRig(t *testing.T, s *redistest.Server) *cliRig {
	t.Helper()
	url := s.URL(s.FreshDB(t))
	cfg := itest.WriteConfig(t, t.TempDir(), url, "http://127.0.0.1:1", nil)
	conn, _ := redisconn.Parse(url)
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	return &cliRig{cfg: cfg, url: url, in: in, rdb: rdb}
}

func TestRecordAndSMSPrintTaskIDAndDedupe(t *testing.T) {
	r := newCLIRig(t, testRedis)
	code, out, errs := cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":1}`, "--key", "order-1")
	if code != 0 || out != "order-1\n" {
		t.Fatalf("record: exit %d out %q err %q", code, out, errs)
	}
	code, out, errs = cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":1}`, "--key", "order-1")
	if code != 0 || out != "order-1\n" || !strings.Contains(errs, "duplicate") {
		t.Fatalf("repeat: exit %d out %q err %q", code, out, errs)
	}
	// Finished within the dedupe window (marker written by the worker): still a duplicate.
	if err := r.rdb.Set(context.Background(), keys.Dedupe("forms", "order-2"), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{}`, "--key", "order-2"); code != 0 || !strings.Contains(errs, "duplicate") {
		t.Fatalf("finished key: exit %d err %q", code, errs)
	}
	code, out, errs = cli(t, "sms", "--config", r.cfg, "--endpoint", "sms", "--phones", "13800000000, 13900000000", "--content", "验证码 1", "--sign", "【X】")
	if code != 0 || len(strings.TrimSpace(out)) == 0 {
		t.Fatalf("sms: exit %d out %q err %q", code, out, errs)
	}
	ti, err := r.in.GetTaskInfo("sms", strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	var p tasks.SMSSend
	if err := json.Unmarshal(ti.Payload, &p); err != nil || len(p.Phones) != 2 || p.Phones[1] != "13900000000" {
		t.Fatalf("payload %s", ti.Payload)
	}
	if qi, _ := r.in.GetQueueInfo("forms"); qi.Pending != 1 {
		t.Fatalf("forms pending %d, want 1", qi.Pending)
	}
}

func TestExitCodes(t *testing.T) {
	r := newCLIRig(t, testRedis)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing flag", []string{"record", "--config", r.cfg, "--endpoint", "forms"}, cliexit.Usage, "required flag"},
		{"unknown flag", []string{"record", "--nope"}, cliexit.Usage, "unknown flag"},
		{"bad config", []string{"record", "--config", "/nonexistent.yaml", "--endpoint", "f", "--table", "t", "--data", "{}"}, cliexit.Usage, "nonexistent"},
		{"unknown endpoint", []string{"record", "--config", r.cfg, "--endpoint", "nope", "--table", "a/b", "--data", "{}"}, cliexit.Failed, "unknown endpoint"},
		{"bad table", []string{"record", "--config", r.cfg, "--endpoint", "forms", "--table", "nope", "--data", "{}"}, cliexit.Failed, "table"},
		{"bad data", []string{"record", "--config", r.cfg, "--endpoint", "forms", "--table", "a/b", "--data", "[1]"}, cliexit.Failed, "data"},
		{"sms to record endpoint", []string{"sms", "--config", r.cfg, "--endpoint", "forms", "--phones", "13800000000", "--content", "x", "--sign", "s"}, cliexit.Failed, "endpoint"},
		{"bad phone", []string{"sms", "--config", r.cfg, "--endpoint", "sms", "--phones", "123", "--content", "x", "--sign", "s"}, cliexit.Failed, "phones[0]"},
		{"redis down", []string{"record", "--config", r.cfg, "--redis", "redis://127.0.0.1:1/0", "--endpoint", "forms", "--table", "a/b", "--data", "{}"}, cliexit.Redis, "unreachable"},
		{"bad redis url", []string{"record", "--config", r.cfg, "--redis", "http://x", "--endpoint", "forms", "--table", "a/b", "--data", "{}"}, cliexit.Usage, "scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := cli(t, c.args...)
			if code != c.code || !strings.Contains(errs, c.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, c.code, errs, c.msg)
			}
		})
	}
}

func TestHelpHelps(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"record", "--help"}, {"sms", "--help"}, {"dlq", "--help"}} {
		code, out, _ := cli(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") || !strings.Contains(out, "--redis") {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
}

func TestDLQCommands(t *testing.T) {
	r := newCLIRig(t, testRedis)
	store := dlq.New(r.rdb)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		p, _ := json.Marshal(tasks.RecordCreate{Endpoint: "forms", Table: "a/b", Data: json.RawMessage(`{}`)})
		now := time.Now().Add(time.Duration(i) * time.Second)
		if err := store.Add(ctx, dlq.Entry{ID: fmt.Sprintf("d%d", i), Type: tasks.TypeRecordCreate, Endpoint: "forms", Error: "bad", Class: "permanent", Code: "4001", Attempts: 1, FirstAttempt: now, LastAttempt: now, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, _ := cli(t, "dlq", "count", "--config", r.cfg, "--endpoint", "forms"); code != 0 || out != "3\n" {
		t.Fatalf("count: %d %q", code, out)
	}
	if code, out, _ := cli(t, "dlq", "count", "--config", r.cfg); code != 0 || !strings.Contains(out, "forms\t3") || !strings.Contains(out, "total\t3") {
		t.Fatalf("count all: %d %q", code, out)
	}
	code, out, _ := cli(t, "dlq", "list", "--config", r.cfg, "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("list --json: %d %q", code, out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "endpoint", "error", "code", "attempts", "payload"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("list --json lacks %q: %s", k, lines[0])
		}
	}
	if first["id"] != "d2" {
		t.Fatalf("newest first, got %v", first["id"])
	}
	if code, out, _ := cli(t, "dlq", "list", "--config", r.cfg); code != 0 || !strings.Contains(out, "ENDPOINT") || !strings.Contains(out, "d1") {
		t.Fatalf("list table: %d %q", code, out)
	}
	if code, out, _ := cli(t, "dlq", "replay", "--config", r.cfg, "--id", "d1"); code != 0 || out != "replayed=1\n" {
		t.Fatalf("replay one: %d %q", code, out)
	}
	if code, _, errs := cli(t, "dlq", "replay", "--config", r.cfg, "--id", "missing"); code != cliexit.Failed || !strings.Contains(errs, "missing") {
		t.Fatalf("replay missing: %d %q", code, errs)
	}
	if qi, _ := r.in.GetQueueInfo("forms"); qi.Pending != 1 {
		t.Fatalf("replayed task not queued: %+v", qi)
	}
	if code, out, _ := cli(t, "dlq", "purge", "--config", r.cfg, "--endpoint", "forms"); code != 0 || out != "purged=2\n" {
		t.Fatalf("purge: %d %q", code, out)
	}
	if n, _ := store.Count(ctx, "forms"); n != 0 {
		t.Fatalf("%d left", n)
	}
}
