package batch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/vendorsim"
)

// Completion is announced once: by the end of the last task after the
// import sealed the batch, or by the seal itself when every task had
// already ended.
func TestCompletionOnceAfterSeal(t *testing.T) {
	rdb := srv.Client(t, srv.FreshDB(t))
	ctx := context.Background()
	start := func() *batch.Tracker {
		tr, err := batch.Start(ctx, rdb, batch.Meta{Endpoint: "forms", Notify: "http://127.0.0.1:1/hook"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		items := []producer.Item{{Endpoint: "forms"}, {Endpoint: "forms"}}
		if err := tr.Record(ctx, []int64{2, 3}, items, []producer.Result{{TaskID: "a"}, {TaskID: "b"}}, []bool{true, true}); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	end := func(tr *batch.Tracker, line int64, dead bool) bool {
		pipe := rdb.Pipeline()
		cmd := batch.End(ctx, pipe, tr.Ref(line), dead, time.Now(), time.Hour)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		c, ok := batch.Completed(tr.ID(), cmd)
		if ok && (c.URL != "http://127.0.0.1:1/hook" || c.Enqueued != 2 || c.Done+c.Dead != 2 || c.Endpoint != "forms") {
			t.Fatalf("completion %+v", c)
		}
		return ok
	}

	tr := start()
	if _, done, err := tr.Seal(ctx); err != nil || done {
		t.Fatalf("seal of a running batch: complete=%v %v", done, err)
	}
	if end(tr, 2, false) || !end(tr, 3, true) || end(tr, 3, true) || end(tr, 3, false) {
		t.Fatal("want one completion, from the last task's end")
	}

	tr = start()
	if end(tr, 2, false) || end(tr, 3, false) {
		t.Fatal("completion before the import sealed the batch")
	}
	if c, done, err := tr.Seal(ctx); err != nil || !done || c.Done != 2 {
		t.Fatalf("seal after every task ended: %+v complete=%v %v", c, done, err)
	}
	if _, done, _ := tr.Seal(ctx); done {
		t.Fatal("a second completion")
	}
}

// enqueue import --notify: once the worker ends the batch's last task, the
// counts are POSTed, signed with results.notify_secret, and retried after a
// failed answer.
func TestImportNotifyWebhook(t *testing.T) {
	const secret = "notify-test-secret"
	var mu sync.Mutex
	var calls []string // the bodies, in order
	var sigOK []bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, string(b))
		sigOK = append(sigOK, r.Header.Get(batch.SignatureHeader) == batch.Sign([]byte(secret), b))
		if len(calls) == 1 {
			w.WriteHeader(http.StatusInternalServerError) // the first attempt fails: retried
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	sc := vendorsim.DefaultConfig()
	sc.Caihcom.BadPhones = []string{phone(1)}
	e := newEnv(t, sc, map[string]itest.Endpoint{"sms": {Rate: 1000, Concurrency: 8}})
	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "results:\n  notify_secret: %s\n", secret)
	_ = f.Close()
	e.conf.Results.NotifySecret = secret

	file := filepath.Join(t.TempDir(), "three.csv")
	if err := os.WriteFile(file, []byte("phones,content\n"+phone(0)+",a\n"+phone(1)+",b\n"+phone(2)+",c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := e.enqueue("import", "--endpoint", "sms", "--notify", "ftp://x", file); code != 2 || !strings.Contains(errs, "--notify") {
		t.Fatalf("bad --notify: exit %d %q", code, errs)
	}
	code, out, errs := e.enqueue("import", "--endpoint", "sms", "--notify", hook.URL+"/hook?token=t0k", file)
	m := summaryRe.FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != "3" {
		t.Fatalf("import: exit %d %q %q", code, out, errs)
	}
	e.startWorker(t)
	// Bounded: 3 tasks and one retry of the webhook after 1 s; 60 s leave
	// room for -race on a loaded machine.
	itest.Eventually(t, time.Minute, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(calls) >= 2, fmt.Sprintf("%d webhook calls", len(calls))
	})
	mu.Lock()
	defer mu.Unlock()
	var c batch.Completion
	if err := json.Unmarshal([]byte(calls[1]), &c); err != nil || c.BatchID != m[4] || c.Done != 2 || c.Dead != 1 || c.Enqueued != 3 || !sigOK[0] || !sigOK[1] || calls[0] != calls[1] {
		t.Fatalf("webhook %v (signatures %v): %+v %v", calls, sigOK, c, err)
	}
	if strings.Contains(calls[1], secret) {
		t.Fatal("the secret is in the body")
	}
}
