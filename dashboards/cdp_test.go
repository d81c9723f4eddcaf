package dashboards_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// cdp drives headless Chromium over the DevTools protocol through
// --remote-debugging-pipe (Chromium reads commands from fd 3 and writes
// answers to fd 4, each a JSON text ended by NUL), so that a test can run
// the real page's scripts and click with a real mouse without any
// WebSocket library.
type cdp struct {
	t        *testing.T
	cmd      *exec.Cmd
	toChrome *os.File
	session  string

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpAnswer
}

type cdpAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startCDP launches the browser with extra flags and opens one page.
func startCDP(t *testing.T, bin string, extra ...string) *cdp {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ansR, ansW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"--user-data-dir=" + t.TempDir(), "--remote-debugging-pipe"}, chromiumFlags...), extra...)
	cmd := exec.Command(bin, append(args, "about:blank")...)
	cmd.ExtraFiles = []*os.File{cmdR, ansW} // fd 3, fd 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmdR.Close()
	_ = ansW.Close()
	c := &cdp{t: t, cmd: cmd, toChrome: cmdW, pending: map[int]chan cdpAnswer{}}
	go c.read(ansR)
	t.Cleanup(func() {
		_ = cmdW.Close() // Chromium exits when its command pipe closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("chromium stderr:\n%.3000s", stderr.String())
		}
	})
	var target struct{ TargetID string }
	c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	c.session = attached.SessionID
	return c
}

func (c *cdp) read(r *os.File) {
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpAnswer
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m.cdpAnswer
		}
	}
}

// send runs one command (in the page's session unless session is "") and
// decodes its result into out; it gives up after 30 s.
func (c *cdp) send(session, method string, params, out any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan cdpAnswer, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.toChrome.Write(append(b, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case a := <-ch:
		if a.Error != nil {
			return fmt.Errorf("%s: %s", method, a.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(a.Result, out)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no answer within 30s", method)
	}
}

func (c *cdp) call(session, method string, params, out any) {
	c.t.Helper()
	if err := c.send(session, method, params, out); err != nil {
		c.t.Fatal(err)
	}
}

// navigate opens url in the page.
func (c *cdp) navigate(url string) {
	c.t.Helper()
	c.call(c.session, "Page.navigate", map[string]any{"url": url}, nil)
}

// eval runs a JavaScript expression in the page (awaiting a promise) and
// decodes its value into out.
func (c *cdp) eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := c.send(c.session, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("%s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out == nil || len(r.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// waitEval evaluates expr until it yields a non-null value (decoded into
// out), for at most d; a page still loading may fail an evaluation.
func (c *cdp) waitEval(ctx context.Context, d time.Duration, what, expr string, out any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		var raw json.RawMessage
		err := c.eval(expr, &raw)
		if err == nil && len(raw) > 0 && string(raw) != "null" {
			if out != nil {
				if err := json.Unmarshal(raw, out); err != nil {
					c.t.Fatal(err)
				}
			}
			return
		}
		last = err
		select {
		case <-ctx.Done():
			var html string
			_ = c.eval("document.documentElement.outerHTML", &html)
			c.t.Fatalf("%s: not within %v (last error %v); page:\n%.2000s", what, d, last, html)
		case <-tick.C:
		}
	}
}

// click moves the mouse to (x, y) and clicks there, as a user does.
func (c *cdp) click(x, y float64) {
	c.t.Helper()
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		c.call(c.session, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": x, "y": y, "button": "left", "clickCount": 1}, nil)
	}
}

// hover moves the mouse to (x, y).
func (c *cdp) hover(x, y float64) {
	c.t.Helper()
	c.call(c.session, "Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": x, "y": y}, nil)
}
