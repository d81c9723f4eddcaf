package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/itest"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/devdemo"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/workercli"
	"github.com/vendorq/vendorq/tasks"
)

// chromiumFlags keep headless Chromium quiet, self-contained and
// independent of any profile on the machine.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
	"--window-size=1280,900",
}

// chromium finds the browser. In CI (CI set) its absence is a failure:
// .ci/run installs it. Elsewhere the test is skipped with the fix named.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("chromium not on PATH (CI is set, so the browser test must run): install it with `apt-get install -y chromium` (.ci/run does)")
	}
	t.Skip("chromium not on PATH: `apt-get install -y chromium` to run the browser test (it is mandatory when CI is set)")
	return ""
}

// browse runs headless Chromium on url with extra flags (--dump-dom or
// --screenshot=…), in a fresh profile, and returns its stdout.
func browse(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// asynqmon's single-page app needs a few (virtual) seconds to fetch and
	// draw; the server-rendered pages need none.
	budget := "--virtual-time-budget=6000"
	if !strings.Contains(url, "/monitoring/") {
		budget = "--virtual-time-budget=500"
	}
	args := append(append([]string{"--user-data-dir=" + t.TempDir(), budget}, chromiumFlags...), extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return stdout.String()
}

// domUntil dumps url's DOM until every want is in it (the SPA fills the
// page from its API), at most tries times.
func domUntil(t *testing.T, bin, url string, tries int, want ...string) string {
	t.Helper()
	var dom string
	for range tries {
		dom = browse(t, bin, url, "--dump-dom")
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(dom, w)
		}
		if !missing {
			return dom
		}
	}
	t.Fatalf("%s never rendered all of %q; last DOM:\n%.3000s", url, want, dom)
	return ""
}

// devWorker is `worker --dev` on a real redis-server, its dashboard on a
// free loopback port.
type devWorker struct {
	base   string // http://127.0.0.1:PORT
	port   int
	db     int
	stderr *itest.Buffer
	exit   chan int
	cancel context.CancelFunc
}

// startDevWorker starts the worker and waits (at most 60 s) for the demo's
// first dead letter (an SMS to a refused phone) to show on /dlq.
func startDevWorker(t *testing.T) *devWorker {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &devWorker{base: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, db: srv.FreshDB(t), stderr: &itest.Buffer{}, exit: make(chan int, 1), cancel: cancel}
	go func() {
		w.exit <- workercli.Main(ctx, []string{"--dev", "--redis", srv.URL(w.db), "--dashboard", w.base[len("http://"):]},
			workercli.Env{Stdout: io.Discard, Stderr: w.stderr, Getenv: func(string) string { return "" }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-w.exit:
			w.exit <- code
		case <-time.After(60 * time.Second):
			t.Error("worker did not stop within 60s")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		body := httpGet(w.base + "/dlq")
		if strings.Contains(body, "9001") {
			return w
		}
		select {
		case code := <-w.exit:
			t.Fatalf("worker exited %d:\n%s", code, w.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter on /dlq within 60s:\n%s\n%s", body, w.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop cancels the worker (Ctrl-C) and checks it exits 0 within 60 s.
func (w *devWorker) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	select {
	case code := <-w.exit:
		w.exit <- code
		if code != cliexit.OK {
			t.Fatalf("worker exit %d after Ctrl-C:\n%s", code, w.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("worker did not stop within 60s of Ctrl-C")
	}
}

// TestBrowserRendersDashboard loads the dashboard of a real worker
// (`worker --dev` on a real redis-server) in headless Chromium and checks
// that the queues and the dead-letter view render; it saves screenshots
// (in the test's temp dir; in docs/ with VENDORQ_UPDATE_DOCS=1).
func TestBrowserRendersDashboard(t *testing.T) {
	bin := chromium(t)
	w := startDevWorker(t)
	base, db := w.base, w.db

	// asynqmon's queue list is filled from its API by the browser (the
	// demo's one-time codes are on the SMS endpoint's high lane).
	dom := domUntil(t, bin, base+"/monitoring/", 3, ">forms<", ">tables<", ">gjy<", ">sms:high<", "Queue Size")
	if strings.Contains(dom, "13800") || strings.Contains(dom, devdemo.BadPhone) {
		t.Error("asynqmon shows an unmasked phone number")
	}
	// A queue's page lists its tasks, payloads masked: an SMS scheduled for
	// later stays there while the browser looks.
	later, err := tasks.NewSMSSendTask(tasks.SMSSend{Endpoint: "sms", Phones: []string{"13712345678"}, Content: "later", Sign: "【X】"}, asynq.ProcessIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr, DB: db})
	defer client.Close()
	if _, err := client.Enqueue(later); err != nil {
		t.Fatal(err)
	}
	dom = domUntil(t, bin, base+"/monitoring/queues/sms?status=scheduled", 2, "137****5678")
	if strings.Contains(dom, "13712345678") {
		t.Error("asynqmon's task list shows an unmasked phone number")
	}
	// The dead-letter view: count per endpoint, the entry with reason and code, phone masked.
	dom = domUntil(t, bin, base+"/dlq", 1, `id="dlq-counts"`, `id="dlq-entries"`, "9001", "permanent", "139****0404", "Replay")
	if strings.Contains(dom, devdemo.BadPhone) {
		t.Error("the dead-letter view shows an unmasked phone number")
	}

	dir := t.TempDir()
	if os.Getenv("VENDORQ_UPDATE_DOCS") != "" {
		dir = filepath.Join("..", "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, path := range map[string]string{"dashboard.png": "/monitoring/", "dlq.png": "/dlq"} {
		file, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		browse(t, bin, base+path, "--screenshot="+file)
		png, err := os.ReadFile(file)
		if err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot of %s: %d bytes, %v", path, len(png), err)
		}
		t.Logf("screenshot of %s: %s", path, file)
	}
	browserActs(t, bin, w)
	w.stop(t)
}

// browserActs proves, in the real browser, that asynqmon's own UI still
// changes things (its axios copies the XSRF-TOKEN cookie into the
// X-XSRF-TOKEN header), while a page of another site and a rebinding page
// change nothing.
func browserActs(t *testing.T, bin string, w *devWorker) {
	ctx := context.Background()
	in := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr, DB: w.db})
	defer in.Close()
	// attacker.example and evil.example resolve to loopback, as the
	// attacker's DNS would make them.
	c := startCDP(t, bin, "--host-resolver-rules=MAP attacker.example 127.0.0.1, MAP evil.example 127.0.0.1")

	// A user pauses queue forms with asynqmon's pause button: hover its
	// row's action cell, click the button that appears.
	c.navigate(w.base + "/monitoring/")
	var pt struct{ X, Y float64 }
	rowJS := `[...document.querySelectorAll("tr")].find(r => r.cells.length > 1 && r.cells[0].textContent.trim() === "forms")`
	c.waitEval(ctx, 30*time.Second, "queue forms in asynqmon's table", `(() => { const row = `+rowJS+`;
		if (!row) return null; const cell = row.cells[row.cells.length - 1]; cell.scrollIntoView({block: "center"});
		const b = cell.getBoundingClientRect(); return {x: b.x + b.width / 2, y: b.y + b.height / 2}; })()`, &pt)
	c.hover(pt.X, pt.Y)
	c.waitEval(ctx, 10*time.Second, "the pause button of queue forms", `(() => { const b = `+rowJS+`.querySelector('button[title="Pause"]');
		if (!b) return null; const r = b.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`, &pt)
	var hasCookie bool
	if err := c.eval(`document.cookie.includes("XSRF-TOKEN=")`, &hasCookie); err != nil || !hasCookie {
		t.Errorf("asynqmon's page cannot read the XSRF-TOKEN cookie (%v)", err)
	}
	c.click(pt.X, pt.Y)
	waitUntil(t, 15*time.Second, "queue forms paused by asynqmon's button", func() bool {
		qi, err := in.GetQueueInfo("forms")
		return err == nil && qi.Paused
	})
	c.waitEval(ctx, 15*time.Second, "queue forms shown paused", `(() => { const row = `+rowJS+`; return row && row.cells[1].textContent.includes("paused") || null; })()`, nil)

	// A page of another site posts to asynqmon's API and to the dead-letter
	// view, with the browser's credentials, in "simple" requests that need
	// no preflight.
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(rw, "<!doctype html><title>evil</title><p>cute cats</p>")
	}))
	defer evil.Close()
	_, evilPort, _ := net.SplitHostPort(evil.Listener.Addr().String())
	c.navigate("http://evil.example:" + evilPort + "/")
	c.waitEval(ctx, 10*time.Second, "the evil page", `document.title === "evil" || null`, nil)
	before := strings.Count(w.stderr.String(), "reason=cross-site")
	attack := fmt.Sprintf(`Promise.all([
		fetch(%[1]q + "/monitoring/api/queues/tables:pause", {method: "POST", mode: "no-cors", credentials: "include"}),
		fetch(%[1]q + "/monitoring/api/queues/sms/scheduled_tasks:run_all", {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"}, body: "{}"}),
		fetch(%[1]q + "/dlq/purge", {method: "POST", mode: "no-cors", credentials: "include", body: new URLSearchParams({endpoint: "sms", confirm: "yes"})}),
	]).then(() => "sent")`, w.base)
	var sent string
	if err := c.eval(attack, &sent); err != nil || sent != "sent" {
		t.Fatalf("the cross-site requests were not sent: %q %v", sent, err)
	}
	// Each reached the dashboard and was refused there.
	waitUntil(t, 10*time.Second, "three cross-site refusals in the log", func() bool {
		return strings.Count(w.stderr.String(), "reason=cross-site")-before >= 3
	})
	if qi, err := in.GetQueueInfo("tables"); err != nil || qi.Paused {
		t.Errorf("queue tables after the cross-site pause: %+v, %v; want running", qi, err)
	}
	if qi, err := in.GetQueueInfo("sms"); err != nil || qi.Scheduled == 0 {
		t.Errorf("queue sms after the cross-site run_all: %+v, %v; want its scheduled task still scheduled", qi, err)
	}
	if body := httpGet(w.base + "/dlq"); !strings.Contains(body, "9001") {
		t.Error("the cross-site purge removed the dead letter")
	}

	// A rebinding page: attacker.example now resolves to 127.0.0.1, so the
	// browser sends the dashboard requests under the attacker's name. A
	// user who opens such a URL sees why it is refused.
	_, port, _ := net.SplitHostPort(w.base[len("http://"):])
	rebound := "http://attacker.example:" + port
	c.navigate(rebound + "/dlq")
	c.waitEval(ctx, 10*time.Second, "the 421 refusal", `document.body && document.body.innerText.includes("--dashboard-allowed-hosts") || null`, nil)
	// The attacker's scripts run at that origin (here in the refusal of
	// /monitoring/, which unlike vendorq's pages has no CSP to stop them):
	// they reach the dashboard (the open /healthz answers) but read
	// nothing else.
	c.navigate(rebound + "/monitoring/")
	c.waitEval(ctx, 10*time.Second, "the 421 refusal of /monitoring/", `document.body && document.body.innerText.includes("rebinding") || null`, nil)
	for _, path := range []string{"/healthz", "/monitoring/api/queues", "/dlq", "/metrics"} {
		var got any
		err := c.eval(fmt.Sprintf(`fetch(%q).then(r => r.text().then(b => r.status + " " + b.slice(0, 80)), e => "failed: " + e)`, path), &got)
		want := "421 "
		if path == "/healthz" {
			want = "200 "
		}
		if s := fmt.Sprint(got); err != nil || !strings.HasPrefix(s, want) {
			t.Errorf("the rebinding page's fetch of %s: %v, %v; want %s…", path, got, err, want)
		}
	}
}

// waitUntil polls cond every 100 ms for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(url string) string {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
