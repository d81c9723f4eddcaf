package worker_test

import (
	"bytes"
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

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/vendorclient"
)

// A fifth vendor that exists only in this file: registering its descriptor
// is all it takes for the config, the enqueue CLI, the producer and the
// worker to serve it, with no change anywhere else.
const (
	fakeVendor   = "fakevendor"
	fakeKey      = "fake_key"
	fakeKeyValue = "fk-0123456789"
)

func init() {
	vendorclient.Register(vendorclient.Descriptor{
		Name: fakeVendor, Kind: vendorclient.KindRecord, DefaultRate: 50,
		TableForm:     "bucket-NAME",
		Credentials:   []vendorclient.Credential{{Key: fakeKey, Required: true, Secret: true}},
		ValidateTable: validateFakeTable,
		New: func(s vendorclient.Settings) (vendorclient.Client, error) {
			hc := s.HTTPClient
			if hc == nil {
				hc = &http.Client{Timeout: s.Timeout}
			}
			return vendorclient.Client{Records: &fakeClient{base: s.BaseURL, key: s.Credentials[fakeKey], hc: hc}}, nil
		},
	})
}

func validateFakeTable(table string) error {
	if !strings.HasPrefix(table, "bucket-") {
		return fmt.Errorf("wants bucket-NAME, got %q", table)
	}
	return nil
}

// fakeClient's protocol: POST {base}/{table} with the key in X-Fake-Key;
// 200 {"id"} is a record, 422 {"code","message"} a permanent refusal.
type fakeClient struct {
	base, key string
	hc        *http.Client
}

func (c *fakeClient) CreateRecord(ctx context.Context, table string, data json.RawMessage) (vendorclient.RecordResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+table, bytes.NewReader(data))
	if err != nil {
		return vendorclient.RecordResult{}, err
	}
	req.Header.Set("X-Fake-Key", c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return vendorclient.RecordResult{}, &vendorclient.Error{Vendor: fakeVendor, Class: vendorclient.ClassTransient, Code: "conn", Err: err}
	}
	defer resp.Body.Close()
	var ans struct{ ID, Code, Message string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&ans); err != nil {
		return vendorclient.RecordResult{}, &vendorclient.Error{Vendor: fakeVendor, Class: vendorclient.ClassTransient, Code: "malformed", Err: err}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return vendorclient.RecordResult{ID: ans.ID}, nil
	case http.StatusUnprocessableEntity:
		return vendorclient.RecordResult{}, &vendorclient.Error{Vendor: fakeVendor, Class: vendorclient.ClassPermanent, Code: ans.Code, Message: ans.Message}
	}
	return vendorclient.RecordResult{}, &vendorclient.Error{Vendor: fakeVendor, Class: vendorclient.ClassTransient, Code: fmt.Sprintf("http_%d", resp.StatusCode)}
}

// fakeServer is the vendor's side: it refuses a wrong key, refuses
// {"fail": true} permanently, and counts the calls per table.
type fakeServer struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Fail bool }
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.calls[r.URL.Path]++
	f.mu.Unlock()
	switch {
	case r.Header.Get("X-Fake-Key") != fakeKeyValue:
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"code":"bad_key","message":"wrong key"}`)
	case body.Fail:
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"code":"refused","message":"this record can never be created"}`)
	default:
		_, _ = io.WriteString(w, `{"id":"rec-1"}`)
	}
}

func (f *fakeServer) callsTo(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func TestFakeFifthVendorDoneAndDeadLettered(t *testing.T) {
	fake := &fakeServer{calls: map[string]int{}}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	rurl := srv.URL(srv.FreshDB(t))
	cfgPath := filepath.Join(t.TempDir(), "vendorq.yaml")
	cfgText := fmt.Sprintf("redis:\n  url: %s\nendpoints:\n  fake:\n    vendor: %s\n    base_url: %s\n    %s: ${FAKE_KEY}\n    max_retry: 2\n",
		rurl, fakeVendor, hs.URL, fakeKey)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return map[string]string{"FAKE_KEY": fakeKeyValue}[k] }

	// config → enqueue: the CLI checks the table with the fake's own rule.
	enqueue := func(table, data, key string) (int, string, string) {
		var out, errb itest.Buffer
		code := enqueuecli.Main(context.Background(), []string{"record", "--config", cfgPath,
			"--endpoint", "fake", "--table", table, "--data", data, "--key", key}, enqueuecli.Env{Stdout: &out, Stderr: &errb, Getenv: getenv})
		return code, strings.TrimSpace(out.String()), errb.String()
	}
	if code, _, errs := enqueue("nobucket", `{}`, "k0"); code != cliexit.Failed || !strings.Contains(errs, "fakevendor wants bucket-NAME") {
		t.Fatalf("bad table: exit %d, stderr %q", code, errs)
	}
	code, okID, errs := enqueue("bucket-ok", `{"n":1}`, "ok-1")
	if code != cliexit.OK || okID == "" {
		t.Fatalf("enqueue ok: exit %d, stderr %q", code, errs)
	}
	code, badID, errs := enqueue("bucket-bad", `{"fail":true}`, "bad-1")
	if code != cliexit.OK || badID == "" {
		t.Fatalf("enqueue bad: exit %d, stderr %q", code, errs)
	}

	// → a real worker, built from the same file.
	cfg, err := config.Load(config.Options{Path: cfgPath, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	w := (&env{rurl: cfg.Redis.URL, cfg: cfg}).startWorker(t)
	conn, _ := redisconn.Parse(cfg.Redis.URL)
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })

	ctx := context.Background()
	store := w.DLQ
	// → done: the record was created once and its key is marked finished.
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		n, err := rdb.Exists(ctx, keys.Dedupe("fake", okID)).Result()
		return err == nil && n == 1, fmt.Sprintf("no done marker for %s (%v); calls %d", okID, err, fake.callsTo("/bucket-ok"))
	})
	// → dead letter: refused at once, with the fake's code, never retried.
	itest.Eventually(t, 20*time.Second, func() (bool, string) {
		e, err := store.Get(ctx, "fake", badID)
		if err != nil {
			return false, err.Error()
		}
		return e.Code == "refused" && e.Class == "permanent", fmt.Sprintf("entry %+v", e)
	})
	if n := fake.callsTo("/bucket-ok"); n != 1 {
		t.Errorf("ok record called %d times, want 1", n)
	}
	if n := fake.callsTo("/bucket-bad"); n != 1 {
		t.Errorf("refused record called %d times, want 1 (permanent: no retry)", n)
	}
	if n, err := store.Count(ctx, "fake"); err != nil || n != 1 {
		t.Errorf("dead letters %d (%v), want 1", n, err)
	}
}
