package enqueuecli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/tasks"
)

// These tests drive `enqueue import` through Main against a redis-server of
// their own (no TestMain: other files of this package may have one).

type cliResult struct {
	code           int
	stdout, stderr string
}

type importFixture struct {
	t      *testing.T
	srv    *redistest.Server
	db     int
	dir    string
	config string
}

func newImportFixture(t *testing.T, opts redistest.Options) *importFixture {
	t.Helper()
	srv := redistest.MustStart(t, opts)
	f := &importFixture{t: t, srv: srv, db: srv.FreshDB(t), dir: t.TempDir()}
	f.config = filepath.Join(f.dir, "vendorq.yaml")
	cfg := `endpoints:
  sms:
    vendor: caihcom
    appkey: test-appkey
    app_id: test-app
    auth_token: test-token
  forms:
    vendor: baibaoyun
    api_key: test-key
`
	if err := os.WriteFile(f.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs `enqueue --config C --redis R args...` with stdin.
func (f *importFixture) run(ctx context.Context, stdin io.Reader, args ...string) cliResult {
	f.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	all := append([]string{"--config", f.config, "--redis", f.srv.URL(f.db)}, args...)
	code := Main(ctx, all, Env{Stdin: stdin, Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

// queueSize is the number of tasks on an endpoint's queues (every lane:
// an import goes to the low one by default).
func (f *importFixture) queueSize(endpoint string) int {
	f.t.Helper()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: f.srv.Addr, DB: f.db})
	defer insp.Close()
	n := 0
	for _, queue := range tasks.Queues(endpoint) {
		info, err := insp.GetQueueInfo(queue)
		if errors.Is(err, asynq.ErrQueueNotFound) || (err != nil && strings.Contains(err.Error(), "does not exist")) {
			continue
		}
		if err != nil {
			f.t.Fatalf("queue %s: %v", queue, err)
		}
		n += info.Size
	}
	return n
}

func (f *importFixture) write(name, content string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

var summaryRe = regexp.MustCompile(`(?m)^enqueued=(\d+) duplicates=(\d+) rejected=(\d+) batch=[a-z0-9]+$`) // one line, the batch id last

// summary parses the one summary line of stdout.
func summary(t *testing.T, r cliResult) (enq, dup, rej int) {
	t.Helper()
	m := summaryRe.FindAllStringSubmatch(r.stdout, -1)
	if len(m) != 1 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("want exactly one summary line on stdout, got %q (stderr %q)", r.stdout, r.stderr)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return n(m[0][1]), n(m[0][2]), n(m[0][3])
}

type rejectLine struct {
	Line      int64  `json:"line"`
	Reason    string `json:"reason"`
	Raw       string `json:"raw"`
	RawBase64 string `json:"raw_base64"`
	Truncated bool   `json:"truncated"`
}

func readRejects(t *testing.T, path string) map[int64]rejectLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("rejects file: %v", err)
	}
	out := map[int64]rejectLine{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r rejectLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("rejects line %q is not JSON: %v", sc.Text(), err)
		}
		if _, dup := out[r.Line]; dup {
			t.Fatalf("line %d rejected twice", r.Line)
		}
		out[r.Line] = r
	}
	return out
}

// badRow is a row planted at a line, with a word its reason must contain.
type badRow struct {
	line   int64
	row    string
	reason string
}

func checkRejects(t *testing.T, path string, bad []badRow) {
	t.Helper()
	got := readRejects(t, path)
	var gotLines, wantLines []int64
	for l := range got {
		gotLines = append(gotLines, l)
	}
	for _, b := range bad {
		wantLines = append(wantLines, b.line)
	}
	slices.Sort(gotLines)
	slices.Sort(wantLines)
	if !slices.Equal(gotLines, wantLines) {
		t.Fatalf("rejected lines %v, want exactly %v", gotLines, wantLines)
	}
	for _, b := range bad {
		r := got[b.line]
		if !strings.Contains(strings.ToLower(r.Reason), b.reason) {
			t.Errorf("line %d: reason %q does not mention %q", b.line, r.Reason, b.reason)
		}
		if r.Raw == "" {
			t.Errorf("line %d: empty raw", b.line)
		}
	}
}

// smsCSVWithBadRows is 1000 sms rows (lines 2..1001) keyed by column id,
// 7 of them bad in each way a CSV row can be.
func smsCSVWithBadRows() (string, []badRow) {
	bad := []badRow{
		{10, "r-0009,13800000009,caf\xe9 \xff,【Demo】,,", "utf-8"},
		{150, "r-0149,13800000149,only three", "column count"},
		{333, "r-0332,12345,hello,【Demo】,,", "phones[0]"},
		{500, "r-0499,13800000499,,【Demo】,,", "content"},
		{678, "r-0677,13800000677," + strings.Repeat("x", 300<<10) + ",【Demo】,,", "payload"},
		{850, ",13800000849,hello,【Demo】,,", "key column"},
		{900, `r-0899,13800000899,say "hi",【Demo】,,`, "quote"},
	}
	byLine := map[int64]string{}
	for _, b := range bad {
		byLine[b.line] = b.row
	}
	var sb strings.Builder
	sb.WriteString("id,phones,content,sign,subcode,sendtime\n")
	for i := range 1000 {
		line := int64(i + 2)
		if r, ok := byLine[line]; ok {
			sb.WriteString(r + "\n")
			continue
		}
		fmt.Fprintf(&sb, "r-%04d,138%08d;139%08d,您的验证码为：%06d。,【Demo】,01,\n", i, i, i, i)
	}
	return sb.String(), bad
}

func TestImportCSVRejectsExactlyTheBadRowsAndRerunAddsNothing(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	ctx := t.Context()
	content, bad := smsCSVWithBadRows()
	path := f.write("messages.csv", content)

	r := f.run(ctx, nil, "import", "--endpoint", "sms", "--key-column", "id", path)
	if r.code != cliexit.Failed {
		t.Fatalf("exit %d, want %d (some rows rejected); stderr %s", r.code, cliexit.Failed, r.stderr)
	}
	if enq, dup, rej := summary(t, r); enq != 993 || dup != 0 || rej != 7 {
		t.Fatalf("summary %d/%d/%d, want enqueued=993 duplicates=0 rejected=7", enq, dup, rej)
	}
	if n := f.queueSize("sms"); n != 993 {
		t.Fatalf("queue sms holds %d tasks, want 993", n)
	}
	checkRejects(t, path+".rejects.jsonl", bad)
	rj := readRejects(t, path+".rejects.jsonl")
	if rj[10].RawBase64 == "" || !strings.Contains(rj[10].Raw, "\uFFFD") {
		t.Errorf("bad UTF-8 row: raw %q raw_base64 %q; want U+FFFD in raw and the exact bytes in raw_base64", rj[10].Raw, rj[10].RawBase64)
	}
	if !rj[678].Truncated || len(rj[678].Raw) > 64<<10 {
		t.Errorf("over-size row: truncated=%v len(raw)=%d; want a truncated raw", rj[678].Truncated, len(rj[678].Raw))
	}

	again := f.run(ctx, nil, "import", "--endpoint", "sms", "--key-column", "id", path)
	if again.code != cliexit.Failed {
		t.Fatalf("re-run: exit %d, want %d; stderr %s", again.code, cliexit.Failed, again.stderr)
	}
	if enq, dup, rej := summary(t, again); enq != 0 || dup != 993 || rej != 7 {
		t.Fatalf("re-run summary %d/%d/%d, want enqueued=0 duplicates=993 rejected=7", enq, dup, rej)
	}
	if n := f.queueSize("sms"); n != 993 {
		t.Fatalf("after re-run the queue holds %d tasks, want 993", n)
	}
}

// smsJSONLWithBadRows is 1000 sms lines keyed by field id, 7 of them bad.
func smsJSONLWithBadRows() (string, []badRow) {
	bad := []badRow{
		{7, "{\"id\":\"j-6\",\"phones\":[\"13800000006\"],\"content\":\"\xc3\x28\",\"sign\":\"【Demo】\"}", "utf-8"},
		{100, `{"id":"j-99","phones":["13800000099"],"content":"hi"`, "invalid json"},
		{250, `{"id":"j-249","phones":["1380000"],"content":"hi"}`, "phones[0]"},
		{499, `{"id":"j-498","phones":["13800000498"],"content":"  "}`, "content"},
		{600, `{"id":"j-599","phones":["13800000599"],"content":"` + strings.Repeat("y", 300<<10) + `"}`, "payload"},
		{777, `{"id":"","phones":["13800000776"],"content":"hi"}`, "key"},
		{1000, `["13800000999","hi"]`, "object"},
	}
	byLine := map[int64]string{}
	for _, b := range bad {
		byLine[b.line] = b.row
	}
	var sb strings.Builder
	for i := range 1000 {
		if r, ok := byLine[int64(i+1)]; ok {
			sb.WriteString(r + "\n")
			continue
		}
		fmt.Fprintf(&sb, `{"id":"j-%d","phones":"138%08d|139%08d","content":"第%d条","sign":"【Demo】"}`+"\n", i, i, i, i)
	}
	return sb.String(), bad
}

func TestImportJSONLFromStdin(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	ctx := t.Context()
	content, bad := smsJSONLWithBadRows()
	rejects := filepath.Join(f.dir, "out.rejects.jsonl")
	args := []string{"import", "--endpoint", "sms", "--format", "jsonl", "--key-column", "id", "--rejects", rejects, "-"}

	r := f.run(ctx, strings.NewReader(content), args...)
	if r.code != cliexit.Failed {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, cliexit.Failed, r.stderr)
	}
	if enq, dup, rej := summary(t, r); enq != 993 || dup != 0 || rej != 7 {
		t.Fatalf("summary %d/%d/%d, want 993/0/7", enq, dup, rej)
	}
	checkRejects(t, rejects, bad)
	if n := f.queueSize("sms"); n != 993 {
		t.Fatalf("queue holds %d, want 993", n)
	}
	again := f.run(ctx, strings.NewReader(content), args...)
	if enq, dup, rej := summary(t, again); enq != 0 || dup != 993 || rej != 7 {
		t.Fatalf("re-run summary %d/%d/%d, want 0/993/7", enq, dup, rej)
	}

	// Without --format, stdin is a usage error that reads nothing.
	if r := f.run(ctx, strings.NewReader(content), "import", "--endpoint", "sms", "-"); r.code != cliexit.Usage || !strings.Contains(r.stderr, "--format") {
		t.Fatalf("stdin without --format: exit %d, stderr %q; want 2 naming --format", r.code, r.stderr)
	}
}

// recordCSV is n record rows for baibaoyun; the default key applies.
func recordCSV(n int) string {
	var sb strings.Builder
	sb.WriteString("name,city,note\n")
	for i := range n {
		fmt.Fprintf(&sb, "user %d,\"Hang, zhou\",\"line one\nline two of row %d\"\n", i, i)
	}
	return sb.String()
}

func TestImportDefaultKeyDedupesIdenticalRowsAndReruns(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	ctx := t.Context()
	content := recordCSV(100) + "user 5,\"Hang, zhou\",\"line one\nline two of row 5\"\n" // row 5 again
	path := f.write("people.csv", content)
	stale := f.write("people.csv.rejects.jsonl", `{"line":1,"reason":"old run"}`+"\n")

	r := f.run(ctx, nil, "import", "--endpoint", "forms", "--table", "app1/entry1", path)
	if r.code != cliexit.OK {
		t.Fatalf("exit %d, want 0; stderr %s", r.code, r.stderr)
	}
	if enq, dup, rej := summary(t, r); enq != 100 || dup != 1 || rej != 0 {
		t.Fatalf("summary %d/%d/%d, want 100/1/0 (the repeated row is a duplicate)", enq, dup, rej)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a clean run left the stale rejects file (stat: %v)", err)
	}
	again := f.run(ctx, nil, "import", "--endpoint", "forms", "--table", "app1/entry1", path)
	if enq, dup, rej := summary(t, again); again.code != cliexit.OK || enq != 0 || dup != 101 || rej != 0 {
		t.Fatalf("re-run: exit %d summary %d/%d/%d, want 0 and 0/101/0", again.code, enq, dup, rej)
	}
	if n := f.queueSize("forms"); n != 100 {
		t.Fatalf("queue holds %d, want 100", n)
	}
}

// triggerReader calls fire once, after more than n bytes were read.
type triggerReader struct {
	r    io.Reader
	n    int
	read int
	once sync.Once
	fire func()
}

func (tr *triggerReader) Read(p []byte) (int, error) {
	if len(p) > 4096 {
		p = p[:4096] // small reads, so the trigger lands mid-file
	}
	n, err := tr.r.Read(p)
	tr.read += n
	if tr.read > tr.n {
		tr.once.Do(tr.fire)
	}
	return n, err
}

func TestImportInterruptedThenRerunEnqueuesEveryRowOnce(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	const rows = 5000
	content := recordCSV(rows)
	args := []string{"import", "--endpoint", "forms", "--table", "app1/entry1", "--format", "csv", "--rejects", filepath.Join(f.dir, "r.jsonl"), "-"}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := f.run(ctx, &triggerReader{r: strings.NewReader(content), n: len(content) / 2, fire: cancel}, args...)
	if r.code != cliexit.Interrupted {
		t.Fatalf("exit %d, want %d (interrupted); stderr %s", r.code, cliexit.Interrupted, r.stderr)
	}
	enq1, dup1, rej1 := summary(t, r)
	if enq1 == 0 || enq1 >= rows || dup1 != 0 || rej1 != 0 {
		t.Fatalf("interrupted summary %d/%d/%d: want some but not all of %d rows", enq1, dup1, rej1, rows)
	}
	if !strings.Contains(r.stderr, "re-run") {
		t.Fatalf("stderr does not say how to finish: %q", r.stderr)
	}
	if n := f.queueSize("forms"); n != enq1 {
		t.Fatalf("queue holds %d, the summary says %d were enqueued", n, enq1)
	}

	again := f.run(t.Context(), strings.NewReader(content), args...)
	enq2, dup2, _ := summary(t, again)
	if again.code != cliexit.OK || enq2 != rows-enq1 || dup2 != enq1 {
		t.Fatalf("re-run: exit %d, enqueued=%d duplicates=%d; want 0, %d and %d", again.code, enq2, dup2, rows-enq1, enq1)
	}
	if n := f.queueSize("forms"); n != rows {
		t.Fatalf("queue holds %d, want every one of %d rows once", n, rows)
	}
}

func TestImportRedisDiesMidwayExit3ThenRerunFinishes(t *testing.T) {
	f := newImportFixture(t, redistest.Options{AOF: true})
	const rows = 5000
	content := recordCSV(rows)
	args := []string{"import", "--endpoint", "forms", "--table", "app1/entry1", "--format", "csv", "--rejects", filepath.Join(f.dir, "r.jsonl"), "-"}

	r := f.run(t.Context(), &triggerReader{r: strings.NewReader(content), n: len(content) / 2, fire: f.srv.Crash}, args...)
	if r.code != cliexit.Redis {
		t.Fatalf("exit %d, want %d (Redis failed mid-way); stderr %s", r.code, cliexit.Redis, r.stderr)
	}
	enq1, _, _ := summary(t, r)
	if enq1 >= rows {
		t.Fatalf("enqueued=%d of %d although Redis died half-way", enq1, rows)
	}
	if !strings.Contains(r.stderr, "re-run") {
		t.Fatalf("stderr does not say how to finish: %q", r.stderr)
	}

	if err := f.srv.Relaunch(); err != nil {
		t.Fatal(err)
	}
	// Every enqueue Redis acknowledged is in the AOF (appendfsync always).
	if n := f.queueSize("forms"); n < enq1 {
		t.Fatalf("after relaunch the queue holds %d, the summary said %d were enqueued", n, enq1)
	}
	again := f.run(t.Context(), strings.NewReader(content), args...)
	enq2, dup2, rej2 := summary(t, again)
	if again.code != cliexit.OK || enq2+dup2 != rows || rej2 != 0 || dup2 < enq1 {
		t.Fatalf("re-run: exit %d, %d/%d/%d; want 0 with enqueued+duplicates=%d and duplicates >= %d", again.code, enq2, dup2, rej2, rows, enq1)
	}
	if n := f.queueSize("forms"); n != rows {
		t.Fatalf("queue holds %d, want every one of %d rows once", n, rows)
	}
}

func TestImportUsageErrors(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	ctx := t.Context()
	csvPath := f.write("a.csv", "name\nx\n")
	smsPath := f.write("s.csv", "phones,content,colour\n13800000000,hi,red\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no table", []string{"--endpoint", "forms", csvPath}, "--table"},
		{"bad table", []string{"--endpoint", "forms", "--table", "no-slash", csvPath}, "app_id/entry_id"},
		{"sms type on record endpoint", []string{"--endpoint", "forms", "--type", "sms", csvPath}, "record endpoint"},
		{"unknown endpoint", []string{"--endpoint", "nope", "--table", "a/b", csvPath}, "unknown endpoint"},
		{"missing file", []string{"--endpoint", "forms", "--table", "a/b", filepath.Join(f.dir, "none.csv")}, "no such file"},
		{"unknown extension", []string{"--endpoint", "forms", "--table", "a/b", f.write("a.txt", "x")}, "--format"},
		{"key column not in header", []string{"--endpoint", "forms", "--table", "a/b", "--key-column", "id", csvPath}, "not in the header"},
		{"unknown sms column", []string{"--endpoint", "sms", smsPath}, "colour"},
		{"rejects onto the input", []string{"--endpoint", "forms", "--table", "a/b", "--rejects", csvPath, csvPath}, "input file"},
		{"no file", []string{"--endpoint", "forms", "--table", "a/b"}, "arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(ctx, nil, append([]string{"import"}, tc.args...)...)
			if r.code != cliexit.Usage || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(tc.want)) {
				t.Fatalf("exit %d stderr %q; want exit 2 mentioning %q", r.code, r.stderr, tc.want)
			}
		})
	}
	if n := f.queueSize("forms") + f.queueSize("sms"); n != 0 {
		t.Fatalf("usage errors enqueued %d tasks", n)
	}
}

func TestImportRedisUnreachableIsExit3(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	path := f.write("a.csv", "name\nx\n")
	f.srv.Crash()
	r := f.run(t.Context(), nil, "import", "--endpoint", "forms", "--table", "a/b", path)
	if r.code != cliexit.Redis {
		t.Fatalf("exit %d, want 3; stderr %q", r.code, r.stderr)
	}
}

func TestImportProgressBarOnlyOnATerminal(t *testing.T) {
	f := newImportFixture(t, redistest.Options{})
	path := f.write("p.csv", recordCSV(300))
	for _, term := range []bool{true, false} {
		var out, errb bytes.Buffer
		code := Main(t.Context(), []string{"--config", f.config, "--redis", f.srv.URL(f.db),
			"import", "--endpoint", "forms", "--table", "a/b", path},
			Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return term }})
		if code != cliexit.OK {
			t.Fatalf("terminal=%v: exit %d, stderr %q", term, code, errb.String())
		}
		if got := strings.Contains(errb.String(), "rows/s"); got != term {
			t.Fatalf("terminal=%v: progress on stderr = %v, want %v: %q", term, got, term, errb.String())
		}
	}
}

func TestImportHelp(t *testing.T) {
	var out bytes.Buffer
	code := Main(context.Background(), []string{"import", "--help"}, Env{Stdout: &out, Stderr: &out})
	for _, want := range []string{"--key-column", "--format", "enqueued=N duplicates=D rejected=R", "rejects", "130"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("import --help does not mention %q", want)
		}
	}
	if code != cliexit.OK {
		t.Fatalf("exit %d", code)
	}
}
