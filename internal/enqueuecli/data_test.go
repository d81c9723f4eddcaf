package enqueuecli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/tasks"
)

// cliIn runs the command with stdin and, when terminal, as if stdin and
// stderr were a terminal.
func cliIn(t *testing.T, stdin io.Reader, terminal bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Main(ctx, args, Env{Stdin: stdin, Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		IsTerminal: func(io.Writer) bool { return terminal }})
	return code, out.String(), errb.String()
}

// --data @FILE and --data - take records too long for a command line
// (here 200 KiB, over Linux's 128 KiB per argument) up to the task limit.
func TestRecordDataFromFileAndStdin(t *testing.T) {
	r := newCLIRig(t, testRedis)
	dir := t.TempDir()
	big := `{"note":"` + strings.Repeat("x", 200<<10) + `"}`
	file := filepath.Join(dir, "record.json")
	if err := os.WriteFile(file, []byte(big+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry"}
	code, out, errs := cli(t, append(base, "--data", "@"+file, "--key", "from-file")...)
	if code != 0 || out != "from-file\n" {
		t.Fatalf("--data @FILE: exit %d, %q, %q", code, out, errs)
	}
	code, out, errs = cliIn(t, strings.NewReader(`{"name":"Li"}`), false, append(base, "--data", "-", "--key", "from-stdin")...)
	if code != 0 || out != "from-stdin\n" {
		t.Fatalf("--data -: exit %d, %q, %q", code, out, errs)
	}
	for id, want := range map[string]string{"from-file": big, "from-stdin": `{"name":"Li"}`} {
		ti, err := r.in.GetTaskInfo("forms", id)
		if err != nil {
			t.Fatal(err)
		}
		var p tasks.RecordCreate
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(p.Data)) != want {
			t.Fatalf("%s: data %.60q..., want %.60q...", id, p.Data, want)
		}
	}
	// Over the payload limit: refused (1), nothing queued.
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte(`{"note":"`+strings.Repeat("x", tasks.MaxPayloadBytes)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, append(base, "--data", "@"+huge)...); code != cliexit.Failed || !strings.Contains(errs, "262144-byte") {
		t.Fatalf("over the limit: exit %d, %q", code, errs)
	}
	if code, _, errs := cliIn(t, strings.NewReader(""), false, append(base, "--data", "-")...); code != cliexit.Failed || !strings.Contains(errs, "data: is required") {
		t.Fatalf("empty stdin: exit %d, %q", code, errs)
	}
	if qi, _ := r.in.GetQueueInfo("forms"); qi.Pending != 2 {
		t.Fatalf("forms pending %d, want 2", qi.Pending)
	}
}

// Malformed JSON says where it breaks, as the HTTP API does.
func TestRecordDataErrorPositions(t *testing.T) {
	r := newCLIRig(t, testRedis)
	dir := t.TempDir()
	multi := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(multi, []byte("{\n  \"名前\": \"李\",\n  \"a\": 1,\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"record", "--config", r.cfg, "--endpoint", "forms", "--table", "app/entry"}
	cases := []struct {
		data, want string
	}{
		{`{"a":1,}`, "data: malformed JSON: invalid character '}' looking for beginning of object key string at line 1, column 8 (byte offset 7)"},
		{"@" + multi, "at line 4, column 1 (byte offset 31)"},
		{`{"a":1`, "data: malformed JSON: truncated, input ends at line 1, column 7 (byte offset 6)"},
		{`{"a":1} {"b":2}`, "data: malformed JSON: unexpected data after the JSON value at line 1, column 9 (byte offset 8)"},
		{`{"a":tru}`, "at line 1, column 9 (byte offset 8)"},
		{`[1]`, "data: must be a JSON object"},
	}
	for _, c := range cases {
		code, out, errs := cli(t, append(base, "--data", c.data)...)
		if code != cliexit.Failed || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("--data %s: exit %d, stdout %q, stderr %q; want 1 and %q", c.data, code, out, errs, c.want)
		}
	}
	if qi, _ := r.in.GetQueueInfo("forms"); qi != nil && qi.Pending != 0 {
		t.Fatalf("malformed data enqueued %d tasks", qi.Pending)
	}
}
