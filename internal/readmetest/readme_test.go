// Package readmetest runs the commands of README.md, so that they cannot
// drift from the code: every command of a ```sh block either runs here, as
// printed, or is skipped by an entry of skipPrefixes that says why it cannot
// run offline. A new command that is neither fails the test.
//
// The commands run in README order, each through bash in one working
// directory, against the binaries built from this tree (first on PATH), a
// throwaway redis-server on a free port ($REDIS_URL) and the README's own
// `vendorsim` (its config comes from `vendorsim --print-vendorq-config`, as a
// reader's does). Commands that keep running (`vendorsim --addr`, `worker`)
// run in the background: a worker until the next worker command, the
// simulator until the end; each must then stop on SIGTERM with exit 0.
// Every loopback port in a command (127.0.0.1:9000, :8080, :8081) is
// replaced by a free one, the same for every command, so that parallel test
// packages cannot collide.
package readmetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// skipPrefixes are the README commands that cannot run here, offline and
// without side effects outside the test. A command is skipped when it starts
// with one of the prefixes.
var skipPrefixes = []struct{ prefix, why string }{
	// `go install ./cmd/...` is what the test's freshly built binaries stand
	// for; `go run ./cmd/worker --dev` builds for a minute and binds the fixed
	// 127.0.0.1:8080 that another package's test may hold (internal/workercli
	// and the dashboards browser test run --dev); `go test …` is the suite.
	{"go ", "Go toolchain"},
	{"make ", "build and test targets: the suite itself"},
	// GOPATH/bin may hold stale binaries: the test's own come first on PATH.
	{"export PATH=", "PATH is set by the test"},
	{"export REDIS_URL=", "the test's throwaway redis-server is $REDIS_URL"},
	{"redis-server ", "the test starts its own redis-server on a free port, never a fixed one"},
	{"export VENDORQ_API_TOKEN=", "openssl; the test sets its own token"},
	{"export VENDORQ_DASHBOARD_", "credentials of the docker compose stack"},
	{"docker ", "needs docker and images from the network"},
	// Switching to the real vendors: the rest of the README keeps running
	// against the simulator. The example file and the secrets the README
	// exports are checked by TestREADMESecretsMatchExample instead.
	{"cp vendorq.example.yaml vendorq.yaml", "switches to the real vendors"},
	{"worker --config /etc/vendorq/", "a production deployment: real vendors"},
}

// fixtures are the files README commands read from the working directory.
var fixtures = map[string]string{
	"record.json": `{"name":"李雷","amount":42}` + "\n",
	"rows.csv":    "name,amount\n李雷,42\n韩梅梅,7\n",
}

// apiToken is $VENDORQ_API_TOKEN for the README's worker --api and curl lines.
const apiToken = "readmetest-0123456789abcdef0123456789abcdef"

var redisSrv *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &redisSrv) }

func TestREADMECommands(t *testing.T) {
	blocks := readmeBlocks(t)
	secretVars := exampleVars(t)
	portRe := regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	ports := map[string]string{}
	bin := filepath.Dir(itest.Binary(t, "worker"))
	itest.Binary(t, "enqueue")
	itest.Binary(t, "vendorsim")

	dir := t.TempDir()
	for name, body := range fixtures {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := redisSrv.FreshDB(t)
	r := &runner{t: t, dir: dir, db: db, env: testEnv(bin, redisSrv.URL(db))}
	t.Cleanup(r.killAll)

	ran := map[string]int{}
	for _, b := range blocks {
		for _, c := range b {
			where := fmt.Sprintf("README.md:%d", c.line)
			kind, why := classify(c.text, secretVars)
			switch kind {
			case kindSkip:
				t.Logf("%s: skipped (%s): %s", where, why, c.text)
				continue
			case kindUnknown:
				t.Fatalf("%s: %q is neither run by this test nor skipped by an entry of skipPrefixes (say why it cannot run offline)", where, c.text)
			case kindCurl:
				if _, err := exec.LookPath("curl"); err != nil { // .ci/run installs it
					t.Fatalf("%s: curl is not on PATH (apt-get install curl): the README's curl lines must run: %s", where, c.text)
				}
			}
			text := portRe.ReplaceAllStringFunc(c.text, func(m string) string {
				p := portRe.FindStringSubmatch(m)[1]
				if ports[p] == "" {
					free, err := redistest.FreePort()
					if err != nil {
						t.Fatal(err)
					}
					ports[p] = strconv.Itoa(free)
				}
				return "127.0.0.1:" + ports[p]
			})
			word, out := strings.Fields(text)[0], ""
			switch kind {
			case kindServe:
				r.startSim(where, text)
			case kindWorker:
				r.stopWorker()
				r.startWorker(where, text)
			case kindRun:
				out = r.run(where, text)
				if m := keyFlagRe.FindStringSubmatch(text); m != nil && strings.HasPrefix(text, "enqueue record ") && strings.TrimSpace(out) != m[1] {
					t.Fatalf("%s: %s: printed %q, want the task id %s (the key)", where, text, out, m[1])
				}
			case kindCurl:
				out = r.curl(where, text)
			}
			ran[word]++
			t.Logf("%s: ran: %s\n%s", where, text, out)
		}
	}
	r.allDone()
	r.stopWorker()
	r.stopSim()
	for _, w := range []string{"vendorsim", "worker", "enqueue", "curl"} {
		if ran[w] == 0 {
			t.Errorf("no %s command of README.md ran: is the parser still finding the ```sh blocks?", w)
		}
	}
	// The README's config is the simulator's, with the endpoints the
	// examples use.
	b, err := os.ReadFile(filepath.Join(dir, "vendorq.yaml"))
	if err != nil {
		t.Fatalf("no vendorq.yaml written by the README's commands: %v", err)
	}
	cfg, err := config.Parse(b, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"forms", "tables", "gjy", "sms"} {
		if cfg.Endpoints[ep] == nil {
			t.Errorf("vendorq.yaml has no endpoint %s", ep)
		}
	}
}

// TestREADMESecretsMatchExample: the variables the README exports for the
// real vendors are exactly vendorq.example.yaml's ${VAR}s, with them set the
// example is a valid config, and every ${VAR} the README mentions is one of
// them.
func TestREADMESecretsMatchExample(t *testing.T) {
	vars := exampleVars(t)
	exported := map[string]bool{}
	for _, b := range readmeBlocks(t) {
		for _, c := range b {
			if names, ok := exportNames(c.text); ok {
				for _, n := range names {
					if vars[n] {
						exported[n] = true
					}
				}
			}
		}
	}
	for v := range vars {
		if !exported[v] {
			t.Errorf("README.md never exports %s, which vendorq.example.yaml needs", v)
		}
	}
	raw, err := os.ReadFile(filepath.Join(root(t), "vendorq.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(raw, func(k string) string {
		if exported[k] {
			return "x"
		}
		return ""
	}); err != nil {
		t.Errorf("vendorq.example.yaml with the README's exports: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(string(readme), -1) {
		if !vars[m[1]] && m[1] != "VAR" {
			t.Errorf("README.md mentions ${%s}; vendorq.example.yaml calls its variables %v", m[1], sortedKeys(vars))
		}
	}
}

// A command the test neither runs nor skips fails it: that is how a new
// README command gets noticed.
func TestClassify(t *testing.T) {
	secrets := map[string]bool{"BAIBAOYUN_API_KEY": true, "YESAPI_APP_KEY": true}
	for text, want := range map[string]int{
		"kubectl apply -f vendorq.yaml":                                         kindUnknown,
		"./bin/enqueue dlq count":                                               kindUnknown,
		"export FOO=1":                                                          kindUnknown,
		"export BAIBAOYUN_API_KEY='…' FOO=1":                                    kindUnknown,
		"export BAIBAOYUN_API_KEY='…' YESAPI_APP_KEY=\"…\"":                     kindSkip,
		"docker compose up -d":                                                  kindSkip,
		"worker --config /etc/vendorq/vendorq.yaml":                             kindSkip,
		"worker --config vendorq.yaml":                                          kindWorker,
		"enqueue dlq count":                                                     kindRun,
		"vendorsim --addr 127.0.0.1:9000 --print-vendorq-config > vendorq.yaml": kindRun,
		"vendorsim --addr 127.0.0.1:9000":                                       kindServe,
		"curl -sS http://127.0.0.1:9000/_sim/stats":                             kindCurl,
	} {
		if got, _ := classify(text, secrets); got != want {
			t.Errorf("%s: kind %d, want %d", text, got, want)
		}
	}
}

// TestSplitCommands pins the README parser: continuations, quotes spanning
// lines, comments, indented fences.
func TestSplitCommands(t *testing.T) {
	md := "text\n   ```sh\n   a 'x\n   y' # c\n   # only a comment\n   b \\\n     --flag \"q # not a comment\"\n   ```\n```text\nnot run\n```\n```sh\nc#d\n```\n"
	blocks, err := parseBlocks(md)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range blocks {
		for _, c := range b {
			got = append(got, fmt.Sprintf("%d:%s", c.line, c.text))
		}
	}
	want := []string{"3:a 'x\ny'", "6:b    --flag \"q # not a comment\"", "13:c#d"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := parseBlocks("```sh\na 'open\n```\n"); err == nil {
		t.Fatal("unterminated quote accepted")
	}
	if _, err := parseBlocks("```sh\na\n"); err == nil {
		t.Fatal("unterminated block accepted")
	}
}

type command struct {
	text string
	line int // README line where it starts
}

func readmeBlocks(t *testing.T) [][]command {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseBlocks(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return blocks
}

var fenceRe = regexp.MustCompile("^( *)```([A-Za-z0-9_-]*)\\s*$")

// parseBlocks returns the commands of every ```sh (or bash, shell) block.
func parseBlocks(md string) ([][]command, error) {
	lines := strings.Split(md, "\n")
	var blocks [][]command
	for i := 0; i < len(lines); i++ {
		m := fenceRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, lang, start := len(m[1]), m[2], i+1
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if len(l)-len(strings.TrimLeft(l, " ")) >= indent {
				l = l[indent:]
			}
			body = append(body, l)
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: code block never closed", start)
		}
		switch lang {
		case "sh", "bash", "shell":
			cmds, err := splitCommands(strings.Join(body, "\n"), start+1)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, cmds)
		}
	}
	return blocks, nil
}

// splitCommands splits a shell block into commands as sh would: a newline
// outside quotes ends one, a backslash-newline continues it, a quote may
// span lines, and # at the start of a word starts a comment (dropped).
func splitCommands(block string, firstLine int) ([]command, error) {
	var out []command
	var buf strings.Builder
	line, start := firstLine, 0
	var quote rune
	rs := []rune(block)
	emit := func() {
		if s := strings.TrimSpace(buf.String()); s != "" {
			out = append(out, command{text: s, line: start})
		}
		buf.Reset()
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if buf.Len() == 0 && c != ' ' && c != '\t' && c != '\n' {
			start = line
		}
		if c == '\n' {
			line++
		}
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
			buf.WriteRune(c)
		case quote == '"':
			if c == '\\' && i+1 < len(rs) {
				buf.WriteRune(c)
				i++
				c = rs[i]
				if c == '\n' {
					line++
				}
			} else if c == '"' {
				quote = 0
			}
			buf.WriteRune(c)
		case c == '\\' && i+1 < len(rs) && rs[i+1] == '\n':
			buf.WriteRune(' ')
			i++
			line++
		case c == '\\' && i+1 < len(rs):
			buf.WriteRune(c)
			i++
			buf.WriteRune(rs[i])
		case c == '\'' || c == '"':
			quote = c
			buf.WriteRune(c)
		case c == '#' && (buf.Len() == 0 || strings.ContainsAny(buf.String()[buf.Len()-1:], " \t")):
			for i+1 < len(rs) && rs[i+1] != '\n' {
				i++
			}
		case c == '\n':
			emit()
		default:
			buf.WriteRune(c)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("line %d: unterminated %c quote", start, quote)
	}
	emit()
	return out, nil
}

// How a README command is run.
const (
	kindUnknown = iota // neither runnable nor skipped: the test fails
	kindSkip           // an entry of skipPrefixes, or the real vendors' secrets
	kindRun            // enqueue …, vendorsim --print-…: runs to exit 0
	kindServe          // vendorsim --addr …: in the background until the end
	kindWorker         // worker …: in the background until the next worker
	kindCurl           // curl …: exit 0 and a JSON answer without errors
)

func classify(text string, secretVars map[string]bool) (kind int, why string) {
	if why, ok := skipped(text, secretVars); ok {
		return kindSkip, why
	}
	switch strings.Fields(text)[0] {
	case "enqueue":
		return kindRun, ""
	case "vendorsim":
		if oneShotSim(text) {
			return kindRun, ""
		}
		return kindServe, ""
	case "worker":
		return kindWorker, ""
	case "curl":
		return kindCurl, ""
	}
	return kindUnknown, ""
}

// skipped says whether (and why) a command is not run.
func skipped(text string, secretVars map[string]bool) (string, bool) {
	for _, s := range skipPrefixes {
		if strings.HasPrefix(text, s.prefix) {
			return s.why, true
		}
	}
	// `export BAIBAOYUN_API_KEY='…' …`: the real vendors' secrets (the
	// README has placeholders); TestREADMESecretsMatchExample checks them.
	if names, ok := exportNames(text); ok && len(names) > 0 {
		for _, n := range names {
			if !secretVars[n] {
				return "", false
			}
		}
		return "real vendor secrets of vendorq.example.yaml", true
	}
	return "", false
}

var assignRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|"[^"]*"|[^\s'"]*)\s*`)

// exportNames returns the variables of `export A=… B=…`.
func exportNames(text string) ([]string, bool) {
	rest, ok := strings.CutPrefix(text, "export ")
	if !ok {
		return nil, false
	}
	var names []string
	for rest = strings.TrimSpace(rest); rest != ""; {
		m := assignRe.FindStringSubmatch(rest)
		if m == nil {
			return nil, false
		}
		names = append(names, m[1])
		rest = rest[len(m[0]):]
	}
	return names, true
}

// oneShotSim says whether a vendorsim command prints and exits.
func oneShotSim(text string) bool {
	for _, f := range []string{"--print-vendorq-config", "--print-config", "--help", "-h"} {
		if regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(f) + `(\s|=|$)`).MatchString(text) {
			return true
		}
	}
	return false
}

// exampleVars returns the ${VAR}s of vendorq.example.yaml.
func exampleVars(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "vendorq.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(l, -1) {
			vars[m[1]] = true
		}
	}
	if len(vars) == 0 {
		t.Fatal("vendorq.example.yaml has no ${VAR}")
	}
	return vars
}

func sortedKeys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func root(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// testEnv is the environment of every command: the test's binaries first on
// PATH, its Redis, its API token, and nothing vendorq-specific from outside.
func testEnv(bin, redisURL string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "REDIS_URL" || strings.HasPrefix(k, "VENDORQ_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"REDIS_URL="+redisURL, "VENDORQ_API_TOKEN="+apiToken)
}

type proc struct {
	where, text string
	cmd         *exec.Cmd
	out         *itest.Buffer
	done        chan error
}

type runner struct {
	t        *testing.T
	dir      string
	db       int
	env      []string
	sim, wkr *proc
}

func (r *runner) bash(ctx context.Context, script string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = r.dir, r.env
	return cmd
}

// run runs a command that exits; it must exit 0 within a minute.
func (r *runner) run(where, text string) string {
	r.t.Helper()
	out, err := r.try(text)
	if err != nil {
		r.t.Fatalf("%s: %s: %v\n%s", where, text, err, out)
	}
	return out
}

func (r *runner) try(text string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := r.bash(ctx, text)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// curl runs a curl command: it must exit 0 and print JSON without errors.
// The simulator's stats are polled (15 s at most) until the vendor accepted
// the README's record: that is the "see it done" step.
func (r *runner) curl(where, text string) (out string) {
	r.t.Helper()
	if strings.Contains(text, "/_sim/stats") {
		itest.Eventually(r.t, 15*time.Second, func() (bool, string) {
			var err error
			out, err = r.try(text)
			if err != nil {
				return false, fmt.Sprintf("%s: %s: %v\n%s", where, text, err, out)
			}
			var stats map[string]vendorsim.Stats
			if err := json.Unmarshal([]byte(out), &stats); err != nil {
				return false, fmt.Sprintf("%s: %v\n%s", where, err, out)
			}
			return stats["baibaoyun"].Accepted >= 1, fmt.Sprintf("%s: the simulator accepted no baibaoyun call yet: %s", where, out)
		})
		return out
	}
	out = r.run(where, text)
	var answer map[string]any
	if err := json.Unmarshal([]byte(out), &answer); err != nil {
		r.t.Fatalf("%s: %s: answer is not one JSON object: %v\n%s", where, text, err, out)
	}
	if answer["errors"] != nil {
		r.t.Fatalf("%s: %s: %s", where, text, out)
	}
	if results, ok := answer["results"].([]any); ok { // a batch: every item enqueued
		for _, it := range results {
			if st, _ := it.(map[string]any)["status"].(float64); st != 200 && st != 202 {
				r.t.Fatalf("%s: %s: an item was refused: %s", where, text, out)
			}
		}
	}
	return out
}

var keyFlagRe = regexp.MustCompile(`--key[ =](\S+)`)

// allDone waits (30 s at most) until the README's tasks have all been
// carried out: the queues are empty, nothing was dead-lettered, and the
// simulator answered every call it got with success (so the placeholders
// of the examples, APP_ID/ENTRY_ID and the phones, are accepted as printed).
func (r *runner) allDone() {
	r.t.Helper()
	if r.sim == nil || r.wkr == nil {
		r.t.Fatal("README.md leaves no simulator and worker running at its end")
	}
	var url string
	if _, err := fmt.Sscanf(r.sim.out.String(), "vendorsim listening on %s", &url); err != nil {
		r.t.Fatalf("simulator banner %q: %v", r.sim.out.String(), err)
	}
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisSrv.Addr, DB: r.db})
	defer in.Close()
	itest.Eventually(r.t, 30*time.Second, func() (bool, string) {
		for _, ep := range []string{"forms", "tables", "gjy", "sms"} {
			for _, q := range tasks.Queues(ep) { // every lane: imports are low, --priority high
				if ok, msg := itest.Drained(in, q); !ok {
					return false, msg
				}
			}
		}
		if out, err := r.try("enqueue dlq count"); err != nil || !strings.Contains(out, "total\t0") {
			return false, fmt.Sprintf("enqueue dlq count: %v\n%s", err, out)
		}
		resp, err := http.Get(url + "/_sim/stats")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var stats map[string]vendorsim.Stats
		if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
			return false, err.Error()
		}
		for v, st := range stats {
			for code := range st.Codes {
				if code != "ok" {
					return false, fmt.Sprintf("the simulator answered %s with %s: %+v", v, code, st)
				}
			}
		}
		return true, ""
	})
}

func (r *runner) start(where, text string) *proc {
	r.t.Helper()
	p := &proc{where: where, text: text, out: &itest.Buffer{}, done: make(chan error, 1)}
	p.cmd = r.bash(context.Background(), "exec "+text)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		r.t.Fatalf("%s: %s: %v", where, text, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// waitFor polls ready (every 50 ms, at most 30 s) while p runs.
func (r *runner) waitFor(p *proc, what string, ready func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case err := <-p.done:
			p.done <- err
			r.t.Fatalf("%s: %s: exited (%v) before %s\n%s", p.where, p.text, err, what, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %s: not %s within 30 s\n%s", p.where, p.text, what, p.out.String())
		}
	}
}

func (r *runner) startSim(where, text string) {
	r.t.Helper()
	if r.sim != nil {
		r.t.Fatalf("%s: a second simulator (the first: %s)", where, r.sim.where)
	}
	r.sim = r.start(where, text)
	r.waitFor(r.sim, "listening", func() bool { return strings.Contains(r.sim.out.String(), "vendorsim listening on") })
}

var addrFlagRe = regexp.MustCompile(`--(?:dashboard|api)[ =](\S+)`)

// startWorker starts a worker and waits until it is ready: /healthz answers
// 200 on its --dashboard or --api address, or else it logged "worker started".
func (r *runner) startWorker(where, text string) {
	r.t.Helper()
	p := r.start(where, text)
	r.wkr = p
	if m := addrFlagRe.FindStringSubmatch(text); m != nil {
		client := &http.Client{Timeout: 2 * time.Second}
		r.waitFor(p, "healthy (GET /healthz)", func() bool {
			resp, err := client.Get("http://" + m[1] + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return
	}
	r.waitFor(p, `started ("worker started")`, func() bool { return strings.Contains(p.out.String(), "worker started") })
}

// stop sends SIGTERM and expects exit 0 within 40 s (the worker's drain
// gives running calls 30 s).
func (r *runner) stop(p *proc) {
	r.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Fatalf("%s: SIGTERM: %v", p.where, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			r.t.Fatalf("%s: %s: after SIGTERM: %v\n%s", p.where, p.text, err, p.out.String())
		}
	case <-time.After(40 * time.Second):
		r.t.Fatalf("%s: %s: still running 40 s after SIGTERM\n%s", p.where, p.text, p.out.String())
	}
}

func (r *runner) stopWorker() {
	r.t.Helper()
	if r.wkr != nil {
		p := r.wkr
		r.wkr = nil
		r.stop(p)
	}
}

func (r *runner) stopSim() {
	r.t.Helper()
	if r.sim != nil {
		p := r.sim
		r.sim = nil
		r.stop(p)
	}
}

// killAll ends what a failed test left running.
func (r *runner) killAll() {
	for _, p := range []*proc{r.wkr, r.sim} {
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}
