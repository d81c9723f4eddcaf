package batch_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
)

var srv *redistest.Server

func TestMain(m *testing.M) {
	redisconn.RouteLogs(zerolog.Nop())
	redistest.Main(m, &srv)
}

// env is a fresh Redis database, a simulator and a config file for both.
type env struct {
	sim  *vendorsim.Sim
	rurl string
	cfg  string         // config path
	conf *config.Config // the same config, loaded
}

func newEnv(t *testing.T, sc vendorsim.Config, over map[string]itest.Endpoint) *env {
	t.Helper()
	sim := vendorsim.New(sc)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	rurl := srv.URL(srv.FreshDB(t))
	return &env{sim: sim, rurl: rurl, cfg: itest.WriteConfig(t, t.TempDir(), rurl, hs.URL, over), conf: itest.Config(t, rurl, hs.URL, over)}
}

// enqueue runs the enqueue CLI and returns its exit code and outputs.
func (e *env) enqueue(args ...string) (int, string, string) {
	var out, errb itest.Buffer
	code := enqueuecli.Main(context.Background(), append(args, "--config", e.cfg), enqueuecli.Env{Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func (e *env) startWorker(t *testing.T) {
	t.Helper()
	conn, err := redisconn.Parse(e.rurl)
	if err != nil {
		t.Fatal(err)
	}
	workertest.Start(t, e.conf, conn, worker.Options{
		Log: zerolog.Nop(), PollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		ThrottleInitial: 5 * time.Millisecond, ThrottleMax: 50 * time.Millisecond,
	})
}

var summaryRe = regexp.MustCompile(`^enqueued=(\d+) duplicates=(\d+) rejected=(\d+) batch=([a-z0-9]+)\n$`)

// A 10,000-row SMS import whose 7 rows go to phones the gateway refuses
// for good ends done=9993 dead=7; its report has 10,000 lines whose states
// are those; a re-run of the same file is all duplicates, and its own
// batch holds no new work.
func TestTenThousandRowImportWithSevenDead(t *testing.T) {
	const rows = 10000
	bad := map[int]string{}
	sc := vendorsim.DefaultConfig()
	for i := range 7 {
		row := 1000*i + 500
		bad[row] = phone(row)
		sc.Caihcom.BadPhones = append(sc.Caihcom.BadPhones, phone(row))
	}
	e := newEnv(t, sc, map[string]itest.Endpoint{"sms": {Rate: 100000, Concurrency: 64}})
	file := filepath.Join(t.TempDir(), "campaign.csv")
	var b strings.Builder
	b.WriteString("phones,content,sign\n")
	for i := range rows {
		fmt.Fprintf(&b, "%s,hello %d,【Q】\n", phone(i), i)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := e.enqueue("import", "--endpoint", "sms", file)
	m := summaryRe.FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != "10000" || m[2] != "0" || m[3] != "0" {
		t.Fatalf("import: exit %d out %q err %q", code, out, errs)
	}
	id := m[4]

	e.startWorker(t)
	// Bounded: 10,000 loopback calls take a few seconds here; 3 minutes
	// leave room for -race on a shared 2-core machine.
	var st batch.Status
	itest.Eventually(t, 3*time.Minute, func() (bool, string) {
		code, out, errs := e.enqueue("batch", "status", id, "--json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false, fmt.Sprintf("exit %d out %q err %q", code, out, errs)
		}
		return st.Pending == 0, out
	})
	if st.Done != rows-7 || st.Dead != 7 || st.Enqueued != rows || st.Duplicates != 0 {
		t.Fatalf("status %+v, want done=9993 dead=7", st)
	}
	code, out, _ = e.enqueue("batch", "status", id)
	if code != 0 || !strings.Contains(out, "done=9993 dead=7 pending=0") || !strings.HasPrefix(out, "batch="+id+" ") {
		t.Fatalf("plain status: exit %d %q", code, out)
	}

	lines := report(t, e, id)
	if len(lines) != rows {
		t.Fatalf("report has %d lines, want %d", len(lines), rows)
	}
	dead := 0
	for i, r := range lines {
		wantLine := int64(i + 2) // the header is line 1
		if r.Line != wantLine || r.TaskID == "" || r.Duplicate {
			t.Fatalf("report line %d: %+v", i, r)
		}
		_, isBad := bad[i]
		switch {
		case isBad && (r.State != "dead" || r.Code == ""):
			t.Fatalf("row %d (refused phone) reported %+v, want dead with a code", i, r)
		case !isBad && r.State != "done":
			t.Fatalf("row %d reported %+v, want done", i, r)
		case isBad:
			dead++
		}
	}
	if dead != 7 {
		t.Fatalf("%d dead rows in the report", dead)
	}

	// The same file again: every row is a duplicate of the first batch's
	// task, and the new batch has nothing to do.
	code, out, errs = e.enqueue("import", "--endpoint", "sms", file)
	m = summaryRe.FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != "0" || m[2] != "10000" || m[4] == id {
		t.Fatalf("re-run: exit %d out %q err %q", code, out, errs)
	}
	code, out, _ = e.enqueue("batch", "status", m[4])
	if code != 0 || !strings.Contains(out, "enqueued=0 duplicates=10000 done=0 dead=0 pending=0") {
		t.Fatalf("re-run status: exit %d %q", code, out)
	}
	again := report(t, e, m[4])
	if len(again) != rows {
		t.Fatalf("re-run report has %d lines", len(again))
	}
	for i, r := range again {
		if !r.Duplicate || r.TaskID != lines[i].TaskID || r.State != lines[i].State {
			t.Fatalf("re-run report line %d: %+v, first run %+v", i, r, lines[i])
		}
	}
	if code, _, _ := e.enqueue("batch", "status", "nosuchbatch"); code != 1 {
		t.Fatalf("unknown batch: exit %d, want 1", code)
	}
}

func report(t *testing.T, e *env, id string) []batch.Row {
	t.Helper()
	code, out, errs := e.enqueue("batch", "report", id)
	if code != 0 {
		t.Fatalf("report: exit %d err %q", code, errs)
	}
	var rows []batch.Row
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r batch.Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

// phone is the i-th test phone: 139 and 8 digits.
func phone(i int) string { return fmt.Sprintf("139%08d", i) }
