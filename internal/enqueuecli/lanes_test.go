package enqueuecli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/cliexit"
)

func TestHoldTime(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		at           string
		atSet        bool
		in           time.Duration
		inSet        bool
		want         time.Time
		flag, errHas string
	}{
		{name: "neither: now"},
		{name: "--in 90s", in: 90 * time.Second, inSet: true, want: now.Add(90 * time.Second), flag: "--in"},
		{name: "--in 0s: now", inSet: true, flag: "--in"},
		{name: "--in negative", in: -time.Second, inSet: true, errHas: "--in -1s: must not be negative"},
		{name: "--at ahead, another zone", at: "2026-12-02T10:30:00+08:00", atSet: true, want: now.Add(90 * time.Minute), flag: "--at"},
		{name: "--at a few seconds ago: now", at: "2026-12-02T00:59:50Z", atSet: true, want: now.Add(-10 * time.Second), flag: "--at"},
		{name: "--at two minutes ago", at: "2026-12-02T00:58:00Z", atSet: true, errHas: "--at 2026-12-02T00:58:00Z is 2m0s in the past"},
		{name: "--at without a zone", at: "2026-12-02T10:30:00", atSet: true, errHas: `--at "2026-12-02T10:30:00": not an RFC3339 time`},
		{name: "--at a date", at: "2026-12-03", atSet: true, errHas: "not an RFC3339 time"},
		{name: "both", at: "2026-12-02T10:30:00Z", atSet: true, in: time.Hour, inSet: true, errHas: "--at and --in"},
	} {
		got, flag, err := holdTime(now, tc.at, tc.atSet, tc.in, tc.inSet)
		switch {
		case tc.errHas != "":
			if code, _ := cliexit.CodeOf(err); code != cliexit.Usage || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: err %v (code %d), want a usage error containing %q", tc.name, err, code, tc.errHas)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !got.Equal(tc.want) || flag != tc.flag:
			t.Errorf("%s: %v from %q, want %v from %q", tc.name, got, flag, tc.want, tc.flag)
		}
	}
}

// --priority and --in/--at of record and sms reach the task: its lane's
// queue, and a scheduled state with the asked time. stdout is the task
// ID alone; stderr says when it runs.
func TestRecordAndSMSLaneAndHoldFlags(t *testing.T) {
	r := newCLIRig(t, testRedis)
	before := time.Now()
	code, out, errs := cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":1}`, "--key", "hi-1", "--priority", "high")
	if code != 0 || out != "hi-1\n" || errs != "" {
		t.Fatalf("record --priority high: exit %d out %q err %q", code, out, errs)
	}
	if ti, err := r.in.GetTaskInfo("forms:high", "hi-1"); err != nil || ti.State != asynq.TaskStatePending {
		t.Fatalf("hi-1 on forms:high: %+v %v, want pending", ti, err)
	}

	code, out, errs = cli(t, "sms", "--config", r.cfg, "--endpoint", "sms", "--phones", "13800000000", "--content", "促销", "--sign", "【X】", "--key", "later-1", "--priority", "low", "--in", "90s")
	after := time.Now()
	if code != 0 || out != "later-1\n" || !strings.Contains(errs, "scheduled: not before ") {
		t.Fatalf("sms --in 90s: exit %d out %q err %q", code, out, errs)
	}
	ti, err := r.in.GetTaskInfo("sms:low", "later-1")
	if err != nil || ti.State != asynq.TaskStateScheduled {
		t.Fatalf("later-1 on sms:low: %+v %v, want scheduled", ti, err)
	}
	// The time is rounded up to a whole second (producer.Hold).
	if lo, hi := before.Add(90*time.Second), after.Add(91*time.Second); ti.NextProcessAt.Before(lo) || ti.NextProcessAt.After(hi) {
		t.Fatalf("later-1 runs at %v, want between %v and %v", ti.NextProcessAt, lo, hi)
	}

	at := time.Now().Add(3 * time.Hour).Truncate(time.Second).In(time.FixedZone("CST", 8*3600))
	code, out, errs = cli(t, "record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":2}`, "--key", "at-1", "--at", at.Format(time.RFC3339))
	if code != 0 || out != "at-1\n" || !strings.Contains(errs, at.Format(time.RFC3339)) {
		t.Fatalf("record --at: exit %d out %q err %q", code, out, errs)
	}
	if ti, err := r.in.GetTaskInfo("forms", "at-1"); err != nil || ti.State != asynq.TaskStateScheduled || !ti.NextProcessAt.Equal(at) {
		t.Fatalf("at-1 on forms: %+v %v, want scheduled at %v", ti, err, at)
	}

	// A scheduled task with a key is a duplicate of itself, whatever lane
	// or time the second enqueue names; it keeps its own.
	code, out, errs = cli(t, "sms", "--config", r.cfg, "--endpoint", "sms", "--phones", "13800000000", "--content", "促销", "--sign", "【X】", "--key", "later-1", "--priority", "high")
	if code != 0 || out != "later-1\n" || !strings.Contains(errs, "duplicate") || strings.Contains(errs, "scheduled") {
		t.Fatalf("again: exit %d out %q err %q", code, out, errs)
	}
	if _, err := r.in.GetTaskInfo("sms:high", "later-1"); err == nil {
		t.Fatal("the duplicate went onto sms:high")
	}
}

// Bad values of the lane and time flags are usage errors (exit 2) naming
// the flag, checked before anything is enqueued.
func TestLaneAndHoldFlagErrors(t *testing.T) {
	r := newCLIRig(t, testRedis)
	csv := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(csv, []byte("name\nLi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := []string{"record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":1}`}
	sms := []string{"sms", "--config", r.cfg, "--endpoint", "sms", "--phones", "13800000000", "--content", "x", "--sign", "【X】"}
	imp := []string{"import", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", csv}
	ago := time.Now().Add(-time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"record priority", append(rec, "--priority", "urgent"), `--priority "urgent": must be high, default or low`},
		{"sms priority", append(sms, "--priority", "HIGH"), `--priority "HIGH"`},
		{"import priority", append(imp, "--priority", "bulk"), `--priority "bulk"`},
		{"record in negative", append(rec, "--in", "-5s"), "--in -5s: must not be negative"},
		{"import in negative", append(imp, "--in", "-1h"), "--in -1h0m0s: must not be negative"},
		{"sms in not a duration", append(sms, "--in", "5"), `"--in"`},
		{"sms in days", append(sms, "--in", "1d"), `"--in"`},
		{"record at past", append(rec, "--at", ago), "--at " + ago + " is 1h0m"}, // ago lost its fraction of a second
		{"import at past", append(imp, "--at", ago), "in the past"},
		{"sms at no zone", append(sms, "--at", "2026-12-02 10:00"), "not an RFC3339 time"},
		{"record at and in", append(rec, "--at", time.Now().Add(time.Hour).Format(time.RFC3339), "--in", "1h"), "--at and --in"},
		{"record in too far", append(rec, "--in", "9000h"), "--in: "},
	} {
		code, out, errs := cli(t, tc.args...)
		if code != cliexit.Usage || out != "" || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d out %q err %q, want exit 2 naming %q", tc.name, code, out, errs, tc.want)
		}
	}
	for _, ep := range []string{"forms", "sms"} {
		for _, q := range []string{ep, ep + ":high", ep + ":low"} {
			if qi, err := r.in.GetQueueInfo(q); err == nil && qi.Size != 0 {
				t.Errorf("%s holds %d tasks after refused commands", q, qi.Size)
			}
		}
	}
}

// An import's rows go to the low lane unless --priority says otherwise,
// and --in holds every row. A re-run with another lane adds nothing.
func TestImportLaneAndHold(t *testing.T) {
	r := newCLIRig(t, testRedis)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	people := write("people.csv", "name,city\nLi,Hangzhou\nWang,Beijing\n")
	code, out, errs := cli(t, "import", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", people)
	if code != 0 || !strings.HasPrefix(out, "enqueued=2 duplicates=0 rejected=0") || strings.Count(out, "\n") != 1 {
		t.Fatalf("import: exit %d out %q err %q", code, out, errs)
	}
	if qi, err := r.in.GetQueueInfo("forms:low"); err != nil || qi.Pending != 2 {
		t.Fatalf("forms:low: %+v %v, want the 2 rows pending", qi, err)
	}
	code, out, errs = cli(t, "import", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry", "--priority", "high", people)
	if code != 0 || !strings.HasPrefix(out, "enqueued=0 duplicates=2 rejected=0") {
		t.Fatalf("re-run on high: exit %d out %q err %q, want 2 duplicates", code, out, errs)
	}

	sms := write("otp.jsonl", `{"phones":["13800000000"],"content":"验证码 1","sign":"【X】"}`+"\n"+`{"phones":["13900000000"],"content":"验证码 2","sign":"【X】"}`+"\n")
	before := time.Now()
	code, out, errs = cli(t, "import", "--config", r.cfg, "--endpoint", "sms", "--priority", "default", "--in", "2h", sms)
	if code != 0 || !strings.HasPrefix(out, "enqueued=2 duplicates=0 rejected=0") || !strings.Contains(errs, "scheduled: not before") {
		t.Fatalf("import --in 2h: exit %d out %q err %q", code, out, errs)
	}
	list, err := r.in.ListScheduledTasks("sms")
	if err != nil || len(list) != 2 {
		t.Fatalf("sms scheduled: %d tasks %v, want 2", len(list), err)
	}
	for _, ti := range list {
		if d := ti.NextProcessAt.Sub(before); d < 2*time.Hour-time.Second || d > 2*time.Hour+time.Minute {
			t.Errorf("task %s runs %v after the import started, want 2h", ti.ID, d)
		}
	}
}
