package enqueuecli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/tasks"
)

// addFiltered stores, 4 minutes apart from 1 minute back (1, 5, 9, ...
// minutes ago): on forms 6 × 4001 (the newest three within the last 10
// minutes) and 2 × 4002, on sms 3 × 8201 transient; errors name the code.
// The --since/--until bounds the tests use (10m, 20m) fall a minute from
// the nearest entry: the margin for the time the test takes.
func addFiltered(t *testing.T, r *cliRig) []dlq.Entry {
	t.Helper()
	now := time.Now()
	var es []dlq.Entry
	add := func(ep, code, class, typ string, n int) {
		for range n {
			i := len(es)
			at := now.Add(-time.Duration(i*4+1) * time.Minute)
			p, _ := json.Marshal(map[string]any{"endpoint": ep, "table": "a/b", "data": map[string]int{"i": i}})
			es = append(es, dlq.Entry{ID: fmt.Sprintf("%s-%02d", ep, i), Type: typ, Endpoint: ep, Class: class, Code: code,
				Error: "vendor: code=" + code, Attempts: 1, FirstAttempt: at, LastAttempt: at, Payload: p})
		}
	}
	add("forms", "4001", "permanent", tasks.TypeRecordCreate, 6)
	add("forms", "4002", "permanent", tasks.TypeRecordCreate, 2)
	add("sms", "8201", "transient", tasks.TypeSMSSend, 3)
	if err := dlq.New(r.rdb).AddMany(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	return es
}

func TestDLQCountBy(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addFiltered(t, r)
	c := []string{"--config", r.cfg}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "count", "--by", "code"}, "4001\t6\n8201\t3\n4002\t2\ntotal\t11\n"},
		{[]string{"dlq", "count", "--by", "class", "--json"}, `{"class":"permanent","count":8}` + "\n" + `{"class":"transient","count":3}` + "\n"},
		{[]string{"dlq", "count", "--by", "endpoint", "--code", "4001"}, "forms\t6\ngjy\t0\nsms\t0\ntables\t0\ntotal\t6\n"},
		{[]string{"dlq", "count", "--endpoint", "forms", "--code", "4001", "--since", "10m"}, "3\n"},
		{[]string{"dlq", "count", "--code", "4001,4002", "--until", "20m"}, "forms\t3\ngjy\t0\nsms\t0\ntables\t0\ntotal\t3\n"},
		{[]string{"dlq", "count", "--type", "sms:send", "--grep", "CODE=82", "--by", "code"}, "8201\t3\ntotal\t3\n"},
	} {
		code, out, errs := cli(t, append(tc.args, c...)...)
		if code != 0 || out != tc.want {
			t.Errorf("%v: exit %d, stdout %q (want %q), stderr %q", tc.args, code, out, tc.want, errs)
		}
	}
}

// list pages newest first across endpoints; the cursor printed last on
// stderr continues the listing with the same filters until none is left.
func TestDLQListPagesWithCursor(t *testing.T) {
	r := newCLIRig(t, testRedis)
	es := addFiltered(t, r)
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		args := []string{"dlq", "list", "--config", r.cfg, "--class", "permanent", "--limit", "3", "--json"}
		if after != "" {
			args = append(args, "--after", after)
		}
		code, out, errs := cli(t, args...)
		if code != 0 || pages > 5 {
			t.Fatalf("page %d: exit %d: %s", pages, code, errs)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e dlq.Entry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			got = append(got, e.ID)
		}
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		next, ok := strings.CutPrefix(lines[len(lines)-1], "next=")
		if !ok {
			if errs != "" {
				t.Fatalf("last page: stderr %q", errs)
			}
			break
		}
		after = next
	}
	var want []string
	for _, e := range es[:8] { // newest first: the order they were made
		want = append(want, e.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("pages listed %v, want %v", got, want)
	}
	// Without --limit everything, no cursor; the table form too.
	code, out, errs := cli(t, "dlq", "list", "--config", r.cfg, "--code", "8201")
	if code != 0 || strings.Count(out, "sms-") != 3 || !strings.Contains(out, "ENDPOINT") || errs != "" {
		t.Fatalf("list --code 8201: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestDLQReplayAndPurgeByFilter(t *testing.T) {
	r := newCLIRig(t, testRedis)
	es := addFiltered(t, r)
	ctx := context.Background()
	if err := r.rdb.Set(ctx, keys.Dedupe("forms", es[0].ID), "1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config", r.cfg, "--code", "4001", "--since", "10m"}
	if code, out, errs := cli(t, append([]string{"dlq", "replay", "--dry-run"}, base...)...); code != 0 || out != "3\n" {
		t.Fatalf("replay --dry-run: exit %d, %q, %q", code, out, errs)
	}
	if n := r.deadCount(t, "forms"); n != 8 {
		t.Fatalf("dry run replayed: %d of 8 left", n)
	}
	if code, out, errs := cli(t, append([]string{"dlq", "replay"}, base...)...); code != 0 || out != "replayed=3\n" {
		t.Fatalf("replay: exit %d, %q, %q", code, out, errs)
	}
	qi, err := r.in.GetQueueInfo(tasks.Queue("forms", tasks.PriorityDefault))
	if err != nil || qi.Pending != 3 {
		t.Fatalf("queue after replay: %+v, %v", qi, err)
	}
	if ex, _ := r.rdb.Exists(ctx, keys.Dedupe("forms", es[0].ID)).Result(); ex != 0 {
		t.Fatal("replay kept the dedupe marker")
	}
	// A filter is a purge target: no --all --yes, nobody asked.
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--grep", "code=82", "--dry-run"); code != 0 || out != "3\n" {
		t.Fatalf("purge --dry-run: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := cli(t, "dlq", "purge", "--config", r.cfg, "--grep", "code=82"); code != 0 || out != "purged=3\n" {
		t.Fatalf("purge --grep: exit %d, %q, %q", code, out, errs)
	}
	if code, out, _ := cli(t, "dlq", "count", "--config", r.cfg); code != 0 || !strings.Contains(out, "total\t5\n") {
		t.Fatalf("left after replay and purge: %q", out)
	}
}

func TestDLQFilterUsageErrors(t *testing.T) {
	r := newCLIRig(t, testRedis)
	addFiltered(t, r)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"dlq", "count", "--class", "fatal"}, `--class: "fatal" is not one of ok, throttled, quota, transient, token, permanent`},
		{[]string{"dlq", "list", "--type", "record"}, "--type:"},
		{[]string{"dlq", "list", "--since", "yesterday"}, `--since: "yesterday" is neither`},
		{[]string{"dlq", "count", "--since", "1h", "--until", "2h"}, "--until:"},
		{[]string{"dlq", "list", "--after", "garbage"}, "--after:"},
		{[]string{"dlq", "count", "--by", "phase"}, "--by:"},
		{[]string{"dlq", "replay", "--id", "x", "--code", "4001"}, "--id selects one dead letter"},
		{[]string{"dlq", "purge", "--all", "--yes", "--code", "4001"}, "exclude each other"},
		{[]string{"dlq", "purge", "--code", "4001", "--endpoint", "nope"}, `unknown endpoint "nope"`},
	} {
		code, _, errs := cli(t, append(tc.args, "--config", r.cfg)...)
		if code != cliexit.Usage || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.msg)
		}
	}
	if n := r.deadCount(t, "forms"); n != 8 {
		t.Fatalf("a usage error deleted: %d of 8 left", n)
	}
}

// Dead letters written before the indexes are found by filters (indexed
// on the way) and by reindex.
func TestDLQReindex(t *testing.T) {
	r := newCLIRig(t, testRedis)
	ctx := context.Background()
	for i := range 5 {
		at := time.Now().Add(-time.Duration(i) * time.Minute)
		b, _ := json.Marshal(dlq.Entry{ID: fmt.Sprint("old-", i), Type: tasks.TypeRecordCreate, Endpoint: "forms", Class: "permanent", Code: "4001", LastAttempt: at, Payload: []byte(`{}`)})
		r.rdb.HSet(ctx, keys.DLQEntries("forms"), fmt.Sprint("old-", i), b)
		r.rdb.ZAdd(ctx, keys.DLQIndex("forms"), redis.Z{Score: float64(at.UnixMilli()), Member: fmt.Sprint("old-", i)})
	}
	r.rdb.SAdd(ctx, keys.DLQEndpoints, "forms")
	if code, out, errs := cli(t, "dlq", "reindex", "--config", r.cfg); code != 0 || out != "indexed=5\n" {
		t.Fatalf("reindex: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := cli(t, "dlq", "reindex", "--config", r.cfg); code != 0 || out != "indexed=0\n" {
		t.Fatalf("reindex again: exit %d, %q, %q", code, out, errs)
	}
	if code, out, _ := cli(t, "dlq", "count", "--config", r.cfg, "--by", "code"); code != 0 || out != "4001\t5\ntotal\t5\n" {
		t.Fatalf("count by code after reindex: %q", out)
	}
}
