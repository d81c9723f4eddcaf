package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestBrowserRendersDashboard loads the dashboard of a real worker
// (`worker --dev` on a real redis-server) in headless Chromium and checks
// that the queues and the dead-letter view render; it saves screenshots
// (in the test's temp dir; in docs/ with VENDORQ_UPDATE_DOCS=1).
func TestBrowserRendersDashboard(t *testing.T) {
	bin := chromium(t)
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr itest.Buffer
	exit := make(chan int, 1)
	db := srv.FreshDB(t)
	go func() {
		exit <- workercli.Main(ctx, []string{"--dev", "--redis", srv.URL(db), "--dashboard", base[len("http://"):]},
			workercli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	}()
	defer func() {
		cancel()
		select {
		case <-exit:
		case <-time.After(60 * time.Second):
			t.Error("worker did not stop within 60s")
		}
	}()

	// The demo's first dead letter (an SMS to a refused phone) is in.
	deadline := time.Now().Add(60 * time.Second)
	for {
		body := httpGet(base + "/dlq")
		if strings.Contains(body, "9001") {
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("worker exited %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter on /dlq within 60s:\n%s\n%s", body, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// asynqmon's queue list is filled from its API by the browser.
	dom := domUntil(t, bin, base+"/monitoring/", 3, ">forms<", ">tables<", ">gjy<", ">sms<", "Queue Size")
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
	cancel()
	select {
	case code := <-exit:
		if code != workercli.ExitOK {
			t.Fatalf("worker exit %d after Ctrl-C:\n%s", code, stderr.String())
		}
		exit <- code
	case <-time.After(60 * time.Second):
		t.Fatal("worker did not stop within 60s of Ctrl-C")
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
