package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/dlq"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
)

// Every group of keys that one Lua script (or multi-key command) touches
// hashes to one cluster slot, as Redis Cluster requires; keys used one at
// a time (dedupe markers) spread over the slots. The cluster is asked
// (CLUSTER KEYSLOT), not a local copy of the hash function.
func TestClusterKeySlots(t *testing.T) {
	c := StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slot := func(k string) int64 {
		n, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, ep := range []string{"forms", "sms", "a-b_c"} {
		groups := map[string][]string{
			"ratelimit reserve (bucket, pause, adapt, sends)": {keys.Bucket(ep), keys.Pause(ep), keys.Adapt(ep), keys.Sends(ep)},
			"ratelimit throttle (adapt, bucket)":              {keys.Adapt(ep), keys.Bucket(ep)},
			"dlq add/remove/purge (index, entries)":           {keys.DLQIndex(ep), keys.DLQEntries(ep)},
			"dhgjcloud token scripts (token, lock)":           {keys.DhgjToken(ep), keys.DhgjToken(ep) + ":lock"},
			"spend take/release (day, phone minute/hour/day)": {
				keys.SpendDay(ep, "20261201"), keys.PhoneCount(ep, "m", "202612011200", "13800000000"),
				keys.PhoneCount(ep, "h", "2026120112", "13800000000"), keys.PhoneCount(ep, "d", "20261201", "13800000000"),
			},
			// asynq's own: its scripts use the {queue} tag.
			"asynq enqueue (task, pending)": {"asynq:{" + ep + "}:t:x", "asynq:{" + ep + "}:pending"},
		}
		for name, ks := range groups {
			want := slot(ks[0])
			for _, k := range ks[1:] {
				if got := slot(k); got != want {
					t.Errorf("endpoint %s, %s: %s is in slot %d, %s in %d", ep, name, ks[0], want, k, got)
				}
			}
		}
	}
	seen := map[int64]bool{}
	for i := range 50 {
		seen[slot(keys.Dedupe("forms", fmt.Sprintf("task-%d", i)))] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 dedupe markers use only %d slots: they should spread", len(seen))
	}
}

// vendorq end to end on a 3-master Redis Cluster: enqueue through the Go
// producer, the enqueue CLI and the HTTP API; a worker serving all four
// vendors; the 5/s limit holding under a backlog; a permanent error
// dead-lettered and replayed with `enqueue dlq replay`; dedupe markers.
func TestClusterEndToEnd(t *testing.T) {
	c := StartCluster(t, 3)
	s := newStack(t, c.URL())
	if s.conn.Kind != redisconn.KindCluster {
		t.Fatalf("conn kind %q", s.conn.Kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The worker runs first, warmed up by one task from the enqueue CLI, so
	// that what follows measures the shared bucket in steady state rather
	// than the process start-up (four asynq servers starting, first dials).
	s.startWorker()
	if code, out, errs := s.enqueueCLI("record", "--redis", c.URL(), "--endpoint", "forms", "--table", "app1/entry1", "--data", `{"via":"cli"}`, "--key", "cli-1"); code != 0 || strings.TrimSpace(out) != "cli-1" {
		t.Fatalf("enqueue record: exit %d out %q err %q", code, out, errs)
	}
	Poll(t, 30*time.Second, "the warm-up task done", func() (bool, error) {
		return s.accepted(vendorsim.TargetBaibaoyun) == 1, nil
	})
	if code, _, errs := s.enqueueCLI("record", "--endpoint", "forms", "--table", "app1/entry1", "--data", `{"via":"cli"}`, "--key", "cli-1"); code != 0 || !strings.Contains(errs, "duplicate") {
		t.Fatalf("enqueue record again: exit %d err %q", code, errs)
	}

	// A backlog on the 5/s endpoint: 15 tasks from the Go producer, 5 from the API.
	const formsGo = 15
	for i := range formsGo {
		res, err := s.producer.Record(ctx, tasks.RecordCreate{Endpoint: "forms", Table: "app1/entry1", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Key: fmt.Sprintf("f-%d", i)})
		if err != nil || res.Duplicate {
			t.Fatalf("record %d: %+v %v", i, res, err)
		}
	}
	// The HTTP API's batch (EnqueueBatch's pipelined dedupe check spans slots).
	const formsAPI = 5
	srv, err := api.New(api.Options{Producer: s.producer, Token: "cluster-test-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	var items []string
	for i := range formsAPI {
		items = append(items, fmt.Sprintf(`{"type":"record","task":{"endpoint":"forms","table":"app1/entry1","data":{"api":%d},"key":"api-%d"}}`, i, i))
	}
	items = append(items, `{"type":"record","task":{"endpoint":"forms","table":"app1/entry1","data":{},"key":"cli-1"}}`) // done already
	req, _ := http.NewRequest("POST", hs.URL+"/v1/tasks:batch", strings.NewReader(`{"items":[`+strings.Join(items, ",")+`]}`))
	req.Header.Set("Authorization", "Bearer cluster-test-token-0123456789")
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var br api.BatchResponse
	err = json.NewDecoder(resp.Body).Decode(&br)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || br.Accepted != formsAPI || br.Duplicates != 1 {
		t.Fatalf("batch on the cluster: %d %+v %v", resp.StatusCode, br, err)
	}

	// dhgjcloud (token + lock scripts), caihcom (delivered-phones set).
	for i := range 3 {
		if _, err := s.producer.Record(ctx, tasks.RecordCreate{Endpoint: "gjy", Table: "/api/records", Data: json.RawMessage(fmt.Sprintf(`{"g":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := s.producer.SMS(ctx, tasks.SMSSend{Endpoint: "sms", Phones: []string{fmt.Sprintf("1380000000%d", i), fmt.Sprintf("1390000000%d", i)}, Content: "您好", Sign: "【X】"}); err != nil {
			t.Fatal(err)
		}
	}
	// yesapi answers a permanent error (ret 400) until told otherwise.
	if err := s.sim.SetFault(vendorsim.TargetYesapi, vendorsim.Fault{Code: "400"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.producer.Record(ctx, tasks.RecordCreate{Endpoint: "tables", Table: "model_a", Data: json.RawMessage(`{"t":1}`), Key: fmt.Sprintf("t-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}

	store := dlq.New(s.rdb)
	const formsAll = formsGo + 1 + formsAPI
	Poll(t, 60*time.Second, "every task done or dead-lettered", func() (bool, error) {
		n, err := store.Count(ctx, "tables")
		if err != nil {
			return false, err
		}
		return s.accepted(vendorsim.TargetBaibaoyun) >= formsAll && s.accepted(vendorsim.TargetDhgjcloud) >= 3 &&
			s.accepted(vendorsim.TargetCaihcom) >= 4 && n == 3, nil
	})
	st := s.sim.Stats()
	bby := st[vendorsim.TargetBaibaoyun]
	t.Logf("baibaoyun on the cluster: %d calls, %d accepted, max %d calls in any 1s window, codes %v", bby.Calls, bby.Accepted, bby.MaxInWindow, bby.Codes)
	if bby.MaxInWindow > 5 {
		t.Errorf("the 5/s endpoint saw %d calls within one second", bby.MaxInWindow)
	}
	if bby.Accepted != formsAll || bby.Duplicates != 0 {
		t.Errorf("baibaoyun accepted %d (duplicates %d), want %d once each", bby.Accepted, bby.Duplicates, formsAll)
	}
	if tok := st[vendorsim.TargetDhgjcloud].Tokens; tok != 1 {
		t.Errorf("dhgjcloud issued %d tokens, want 1 shared token", tok)
	}
	if acc := st[vendorsim.TargetCaihcom].Accepted; acc != 4 {
		t.Errorf("caihcom accepted %d messages, want 4", acc)
	}
	// Finished keys stay duplicates (dedupe markers on the cluster).
	res, err := s.producer.Record(ctx, tasks.RecordCreate{Endpoint: "forms", Table: "app1/entry1", Data: json.RawMessage(`{}`), Key: "f-0"})
	if err != nil || !res.Duplicate {
		t.Fatalf("finished key f-0: %+v %v", res, err)
	}
	entries, err := store.List(ctx, "tables", 0, 0)
	if err != nil || len(entries) != 3 || entries[0].Class != "permanent" || entries[0].Code != "400" {
		t.Fatalf("dead letters: %+v %v", entries, err)
	}

	// The vendor is fixed: replay with the CLI, everything lands once.
	s.sim.ClearFaults()
	code, out, errs := s.enqueueCLI("dlq", "replay", "--redis", c.URL(), "--endpoint", "tables")
	if code != 0 {
		t.Fatalf("dlq replay: exit %d\n%s\n%s", code, out, errs)
	}
	Poll(t, 30*time.Second, "replayed dead letters done", func() (bool, error) {
		n, err := store.Count(ctx, "tables")
		return err == nil && n == 0 && s.accepted(vendorsim.TargetYesapi) == 3, err
	})
	Poll(t, 30*time.Second, "every queue drained", func() (bool, error) {
		n, err := s.unfinished()
		return n == 0, err
	})
}
