package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// fakeQueue is an Enqueuer that keeps task IDs like asynq would (a second
// ID is a duplicate) and can fail like Redis after some enqueues.
type fakeQueue struct {
	mu       sync.Mutex
	ids      map[string][]byte // id -> payload
	failFrom int               // fail the enqueue number failFrom (1-based) and after; 0 = never
	calls    int
}

func (q *fakeQueue) EnqueueBatch(_ context.Context, items []producer.Item) ([]producer.Result, []bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ids == nil {
		q.ids = map[string][]byte{}
	}
	res := make([]producer.Result, len(items))
	done := make([]bool, len(items))
	for i, it := range items {
		q.calls++
		if q.failFrom > 0 && q.calls >= q.failFrom {
			return res, done, fmt.Errorf("%w: enqueue: connection refused", producer.ErrRedis)
		}
		id := tasks.TaskID(it.Key)
		_, dup := q.ids[id]
		if !dup {
			q.ids[id] = it.Task.Payload()
		}
		res[i], done[i] = producer.Result{TaskID: id, Duplicate: dup}, true
	}
	return res, done, nil
}

func (q *fakeQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ids)
}

// sliceSink keeps rejects in memory and checks each marshals to one line.
type sliceSink struct{ got []Reject }

func (s *sliceSink) Reject(r Reject) error {
	b, err := json.Marshal(r)
	if err != nil || bytes.ContainsRune(b, '\n') {
		return fmt.Errorf("reject %+v does not make one JSON line: %w", r, err)
	}
	s.got = append(s.got, r)
	return nil
}

func (s *sliceSink) lines() []int64 {
	var l []int64
	for _, r := range s.got {
		l = append(l, r.Line)
	}
	return l
}

func recordOpts(f Format, sink RejectSink) Options {
	return Options{Endpoint: "forms", Type: TypeRecord, Table: "app/entry", Format: f, Rejects: sink, BatchSize: 3, Concurrency: 2}
}

func TestCSVLineNumbersAndRawSurviveQuotesCRLFAndBlankLines(t *testing.T) {
	in := "\xEF\xBB\xBFname, note \r\n" + // BOM, CRLF, spaces around a header name
		"a,\"one\r\ntwo\"\r\n" + // line 2-3: a quoted field over two lines
		"\r\n" + // line 4: blank, skipped
		"b\r\n" + // line 5: wrong column count
		"c,\"x\"\"y\"\r\n" + // line 6: escaped quote
		"d,\"unterminated\n" // line 7: quote never closed
	sink := &sliceSink{}
	q := &fakeQueue{}
	sum, err := Run(t.Context(), strings.NewReader(in), q, recordOpts(FormatCSV, sink))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sink.lines()); got != "[5 7]" {
		t.Fatalf("rejected lines %s, want [5 7]", got)
	}
	if sink.got[0].Raw != "b" || !strings.Contains(sink.got[0].Reason, "column count") {
		t.Fatalf("line 5 reject %+v", sink.got[0])
	}
	if sum.Enqueued != 2 || sum.Rejected != 2 || sum.LastLine != 7 {
		t.Fatalf("summary %+v", sum)
	}
	want := map[string]bool{`{"name":"a","note":"one\ntwo"}`: true, `{"name":"c","note":"x\"y"}`: true}
	for _, p := range q.ids {
		var rc tasks.RecordCreate
		if err := json.Unmarshal(p, &rc); err != nil {
			t.Fatal(err)
		}
		if !want[string(rc.Data)] || rc.Table != "app/entry" || !strings.HasPrefix(rc.Key, DefaultKeyPrefix) {
			t.Fatalf("unexpected task payload %s", p)
		}
	}
}

func TestCSVRawIsExactOverManyRecords(t *testing.T) {
	// Every row is rejected (too few columns), so every raw is checked;
	// enough rows that the recorder compacts its buffer many times.
	var sb strings.Builder
	sb.WriteString("a,b\n")
	for i := range 20000 {
		fmt.Fprintf(&sb, "row-%d-%s\n", i, strings.Repeat("z", i%50))
	}
	sink := &sliceSink{}
	sum, err := Run(t.Context(), strings.NewReader(sb.String()), &fakeQueue{}, recordOpts(FormatCSV, sink))
	if err != nil || sum.Rejected != 20000 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	for i, r := range sink.got {
		if want := fmt.Sprintf("row-%d-%s", i, strings.Repeat("z", i%50)); r.Raw != want || r.Line != int64(i+2) {
			t.Fatalf("reject %d: line %d raw %q, want line %d raw %q", i, r.Line, r.Raw, i+2, want)
		}
	}
}

func TestJSONLRecordRowsKeysAndLimits(t *testing.T) {
	long := `{"x":"` + strings.Repeat("a", MaxLineBytes) + `"}`
	in := strings.Join([]string{
		`{"id": 7, "name": "Li"}`,       // 1: numeric key
		``,                              // 2: blank, skipped
		`{"id": "k-2", "name": "Wang"}`, // 3
		long,                            // 4: over MaxLineBytes, skipped without being held
		`{"name": "no key"}`,            // 5: key field missing
		`{"id": {"a":1}}`,               // 6: key not a string or number
		`[1,2]`,                         // 7: not an object
		`{"id": "k-2", "name": "Wang"}`, // 8: same key as line 3
		"{\"id\": \"k-9\"}\r",           // 9: CRLF
	}, "\n")
	sink := &sliceSink{}
	q := &fakeQueue{}
	o := recordOpts(FormatJSONL, sink)
	o.KeyColumn = "id"
	sum, err := Run(t.Context(), strings.NewReader(in), q, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sink.lines()); got != "[4 5 6 7]" {
		t.Fatalf("rejected lines %s, want [4 5 6 7]; rejects %+v", got, sink.got)
	}
	if r := sink.got[0]; !r.Truncated || len(r.Raw) != MaxRawBytes || !strings.Contains(r.Reason, "line over") {
		t.Fatalf("long line reject: truncated=%v len=%d reason %q", r.Truncated, len(r.Raw), r.Reason)
	}
	if sum.Enqueued != 3 || sum.Duplicates != 1 || sum.Rejected != 4 {
		t.Fatalf("summary %+v, want 3 enqueued, 1 duplicate, 4 rejected", sum)
	}
	for _, id := range []string{"7", "k-2", "k-9"} {
		if _, ok := q.ids[id]; !ok {
			t.Fatalf("no task with ID %q (have %v)", id, q.ids)
		}
	}
}

func TestSMSCSVAndJSONLGiveTheSameDefaultKey(t *testing.T) {
	csvIn := "phones,content,sign\n\"13800000000, 13900000000\",hi,【X】\n"
	jsonIn := `{"phones":["13800000000","13900000000"],"content":"hi","sign":"【X】"}` + "\n"
	ids := map[Format]string{}
	for f, in := range map[Format]string{FormatCSV: csvIn, FormatJSONL: jsonIn} {
		q := &fakeQueue{}
		sum, err := Run(t.Context(), strings.NewReader(in), q, Options{Endpoint: "sms", Type: TypeSMS, Format: f, Rejects: &sliceSink{}})
		if err != nil || sum.Enqueued != 1 {
			t.Fatalf("%s: %+v %v", f, sum, err)
		}
		for id := range q.ids {
			ids[f] = id
		}
	}
	want := DefaultKey("sms", TypeSMS, "", "13800000000,13900000000", "hi", "【X】", "", "")
	if ids[FormatCSV] != want || ids[FormatJSONL] != want {
		t.Fatalf("task IDs csv %q jsonl %q, want both %q", ids[FormatCSV], ids[FormatJSONL], want)
	}
}

func TestSMSJSONLFieldErrors(t *testing.T) {
	in := strings.Join([]string{
		`{"phones":["13800000000"],"content":"ok"}`,
		`{"phones":["13800000000"],"content":"ok","endpoint":"other"}`,
		`{"phones":["13800000000"],"content":"ok","colour":"red"}`,
		`{"phones":13800000000,"content":"ok"}`,
		`{"phones":["13800000000"],"content":5}`,
		`{"phones":["13800000000"],"content":"ok","sendtime":"tomorrow"}`,
		`null`,
	}, "\n")
	sink := &sliceSink{}
	sum, err := Run(t.Context(), strings.NewReader(in), &fakeQueue{}, Options{Endpoint: "sms", Type: TypeSMS, Format: FormatJSONL, Rejects: sink})
	if err != nil || sum.Enqueued != 1 || sum.Rejected != 6 {
		t.Fatalf("summary %+v err %v; rejects %+v", sum, err, sink.got)
	}
	for i, want := range []string{"--endpoint", `unknown field "colour"`, "phones", "content", "sendtime", "object"} {
		if !strings.Contains(sink.got[i].Reason, want) {
			t.Errorf("line %d: reason %q does not mention %q", sink.got[i].Line, sink.got[i].Reason, want)
		}
	}
}

// cancelReader cancels after n bytes.
type cancelReader struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	p = p[:min(len(p), 1024)]
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func csvRows(n int) string {
	var sb strings.Builder
	sb.WriteString("id,name\n")
	for i := range n {
		fmt.Fprintf(&sb, "%d,name %d\n", i, i)
	}
	return sb.String()
}

func TestInterruptFinishesWhatWasReadAndResumeLineIsExact(t *testing.T) {
	in := csvRows(10000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	q := &fakeQueue{}
	o := recordOpts(FormatCSV, &sliceSink{})
	sum, err := Run(ctx, &cancelReader{r: strings.NewReader(in), n: len(in) / 3, cancel: cancel}, q, o)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want ErrInterrupted", err)
	}
	// Every row read was enqueued: rows are lines 2..ResumeLine-1.
	if sum.ResumeLine != sum.LastLine+1 || sum.Enqueued != sum.LastLine-1 || int64(q.size()) != sum.Enqueued {
		t.Fatalf("summary %+v, queue %d: want every row before ResumeLine enqueued", sum, q.size())
	}
	if sum.Enqueued == 0 || sum.Enqueued == 10000 {
		t.Fatalf("enqueued %d: the cancel did not land mid-file", sum.Enqueued)
	}
	sum2, err := Run(t.Context(), strings.NewReader(in), q, o)
	if err != nil || sum2.Enqueued+sum.Enqueued != 10000 || sum2.Duplicates != sum.Enqueued || q.size() != 10000 {
		t.Fatalf("re-run %+v err %v queue %d", sum2, err, q.size())
	}
}

func TestRedisFailureStopsAndReportsResumeLine(t *testing.T) {
	q := &fakeQueue{failFrom: 501}
	o := recordOpts(FormatCSV, &sliceSink{})
	o.BatchSize, o.Concurrency = 50, 4
	sum, err := Run(t.Context(), strings.NewReader(csvRows(5000)), q, o)
	if !errors.Is(err, producer.ErrRedis) {
		t.Fatalf("err %v, want producer.ErrRedis", err)
	}
	if sum.Enqueued != 500 || q.size() != 500 {
		t.Fatalf("enqueued %d, queue %d; want exactly the 500 that succeeded", sum.Enqueued, q.size())
	}
	if sum.ResumeLine < 2 || sum.ResumeLine > 502 {
		t.Fatalf("ResumeLine %d: rows from line 502 on were never enqueued", sum.ResumeLine)
	}
	if sum.LastLine >= 5001 {
		t.Fatalf("the reader went on to line %d after Redis failed", sum.LastLine)
	}
}

func TestInputAndUsageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		o    Options
		want error
	}{
		"empty csv":         {"", recordOpts(FormatCSV, &sliceSink{}), ErrInput},
		"duplicate column":  {"a,a\n1,2\n", recordOpts(FormatCSV, &sliceSink{}), ErrInput},
		"empty column name": {"a,\n1,2\n", recordOpts(FormatCSV, &sliceSink{}), ErrInput},
		"sms no content":    {"phones\n13800000000\n", Options{Endpoint: "sms", Type: TypeSMS, Format: FormatCSV, Rejects: &sliceSink{}}, ErrInput},
		"no table":          {"a\n1\n", Options{Endpoint: "forms", Type: TypeRecord, Format: FormatCSV, Rejects: &sliceSink{}}, ErrUsage},
		"no rejects":        {"a\n1\n", Options{Endpoint: "forms", Type: TypeRecord, Table: "a/b", Format: FormatCSV}, ErrUsage},
		"runaway quote":     {"a\n\"" + strings.Repeat("x", MaxRecordBytes+10), recordOpts(FormatCSV, &sliceSink{}), ErrInput},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(t.Context(), strings.NewReader(tc.in), &fakeQueue{}, tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFormatFor(t *testing.T) {
	for _, tc := range []struct {
		flag, path string
		want       Format
		ok         bool
	}{
		{"", "a.csv", FormatCSV, true},
		{"", "a.CSV", FormatCSV, true},
		{"", "a.ndjson", FormatJSONL, true},
		{"", "a.jsonl", FormatJSONL, true},
		{"jsonl", "a.csv", FormatJSONL, true},
		{"", "-", "", false},
		{"csv", "-", FormatCSV, true},
		{"", "a.txt", "", false},
		{"xml", "a.csv", "", false},
	} {
		got, err := FormatFor(tc.flag, tc.path)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("FormatFor(%q, %q) = %q, %v; want %q ok=%v", tc.flag, tc.path, got, err, tc.want, tc.ok)
		}
	}
}

func TestProgressReportsTheEnd(t *testing.T) {
	var last Progress
	var calls int
	o := recordOpts(FormatCSV, &sliceSink{})
	o.Progress = func(p Progress) { last = p; calls++ }
	in := csvRows(100)
	if _, err := Run(t.Context(), strings.NewReader(in), &fakeQueue{}, o); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || !last.Done || last.Rows != 100 || last.Enqueued != 100 || last.Bytes != int64(len(in)) {
		t.Fatalf("last progress %+v after %d calls", last, calls)
	}
	var buf bytes.Buffer
	bar := NewBar(&buf, int64(len(in)))
	bar.Update(last)
	if !strings.Contains(buf.String(), "100 rows") || !strings.Contains(buf.String(), "100%") {
		t.Fatalf("bar drew %q", buf.String())
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\t\n\r", "中文 <&> \u2028\u2029 é"} {
		checkJSONString(t, s)
	}
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	b := appendJSONString(nil, s)
	var back string
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Fatalf("appendJSONString(%q) = %s: decodes to %q, %v", s, b, back, err)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the mappers reject non-UTF-8 before building JSON
		}
		checkJSONString(t, s)
	})
}

// FuzzImport feeds arbitrary bytes as CSV and JSONL: the import must not
// panic, every row is enqueued or rejected once, and rejects are valid JSON.
func FuzzImport(f *testing.F) {
	f.Add([]byte("name,note\na,\"b\nc\"\nd\n\xff,x\n"), true)
	f.Add([]byte("{\"a\":1}\n[1]\n{\"a\":\n\xfe\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, isCSV bool) {
		format := FormatJSONL
		if isCSV {
			format = FormatCSV
		}
		sink := &sliceSink{}
		q := &fakeQueue{}
		sum, err := Run(context.Background(), bytes.NewReader(in), q, recordOpts(format, sink))
		if err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("err %v", err)
		}
		if int64(len(sink.got)) != sum.Rejected || int64(q.size()) != sum.Enqueued {
			t.Fatalf("summary %+v, %d rejects, %d queued", sum, len(sink.got), q.size())
		}
		prev := int64(0)
		for _, r := range sink.got {
			if r.Line <= prev {
				t.Fatalf("reject lines out of order: %d after %d", r.Line, prev)
			}
			prev = r.Line
		}
	})
}
