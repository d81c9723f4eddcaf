package taskstate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/redistest"
	"github.com/vendorq/vendorq/internal/taskstate"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
	"github.com/vendorq/vendorq/internal/workertest"
	"github.com/vendorq/vendorq/tasks"
)

var srv *redistest.Server

func TestMain(m *testing.M) {
	redisconn.RouteLogs(zerolog.Nop())
	redistest.Main(m, &srv)
}

const token = "status-test-token-0123456789"

type env struct {
	t      *testing.T
	sim    *vendorsim.Sim
	rurl   string
	cfg    *config.Config
	path   string // the config file
	conn   redisconn.Conn
	prod   *producer.Producer
	apiURL string
}

func newEnv(t *testing.T) *env {
	sim := vendorsim.New(vendorsim.DefaultConfig())
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	rurl := srv.URL(srv.FreshDB(t))
	over := map[string]itest.Endpoint{"tables": {MaxRetry: itest.IntPtr(50)}}
	e := &env{t: t, sim: sim, rurl: rurl, cfg: itest.Config(t, rurl, hs.URL, over), path: itest.WriteConfig(t, t.TempDir(), rurl, hs.URL, over)}
	conn, err := redisconn.Parse(rurl)
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	e.prod = producer.New(e.cfg, asynq.NewClientFromRedisClient(rdb), rdb)
	src := taskstate.Source{Redis: rdb, Inspector: asynq.NewInspectorFromRedisClient(rdb)}
	eps := e.cfg.EndpointNames()
	s, err := api.New(api.Options{Producer: e.prod, Token: token, Tasks: func(ctx context.Context, id string) (taskstate.Info, error) {
		return taskstate.Lookup(ctx, src, eps, id)
	}})
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewServer(s)
	t.Cleanup(as.Close)
	e.apiURL = as.URL
	return e
}

// status runs `enqueue status ID --json`.
func (e *env) status(id string) (int, taskstate.Info, string) {
	var out, errb itest.Buffer
	code := enqueuecli.Main(context.Background(), []string{"status", id, "--json", "--config", e.path}, enqueuecli.Env{Stdout: &out, Stderr: &errb})
	var in taskstate.Info
	if code == 0 {
		if err := json.Unmarshal([]byte(out.String()), &in); err != nil {
			return -1, in, fmt.Sprintf("%q: %v", out.String(), err)
		}
	}
	return code, in, out.String() + errb.String()
}

// waitState polls the CLI until the task is in state.
func (e *env) waitState(id, state string) taskstate.Info {
	e.t.Helper()
	var in taskstate.Info
	// Bounded: each state below is reached within a few seconds of the
	// worker's start; 60 s leave room for -race on a loaded machine.
	itest.Eventually(e.t, time.Minute, func() (bool, string) {
		code, got, msg := e.status(id)
		in = got
		return code == 0 && got.State == state, fmt.Sprintf("exit %d state %q (%s)", code, got.State, msg)
	})
	return in
}

func (e *env) get(id string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.apiURL+"/v1/tasks/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) record(ep, table, key string, lane tasks.Priority, opts ...asynq.Option) string {
	e.t.Helper()
	rc := tasks.RecordCreate{Endpoint: ep, Table: table, Data: json.RawMessage(`{"k":"` + key + `"}`), Key: key, Priority: lane}
	task, err := tasks.NewRecordCreateTask(rc, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.prod.Enqueue(context.Background(), task, ep, key)
	if err != nil || r.Duplicate {
		e.t.Fatalf("enqueue %s: %+v %v", key, r, err)
	}
	return r.TaskID
}

func (e *env) startWorker() {
	e.t.Helper()
	workertest.Start(e.t, e.cfg, e.conn, worker.Options{Log: zerolog.Nop(), PollInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
}

// The status of a pending, a scheduled, a retrying, a done (with the
// vendor's record id) and a dead task, from the CLI and the HTTP API; an
// unknown id is exit 1 and HTTP 404.
func TestStatusOfEveryState(t *testing.T) {
	e := newEnv(t)
	pending := e.record("forms", "app/entry", "st-pending", tasks.PriorityHigh) // on the forms:high queue
	scheduled := e.record("forms", "app/entry", "st-scheduled", "", asynq.ProcessIn(time.Hour))

	in := e.waitState(pending, taskstate.Pending)
	if in.Endpoint != "forms" || in.Queue != "forms:high" || in.Priority != "high" || in.Type != tasks.TypeRecordCreate || in.Failures != 0 {
		t.Fatalf("pending: %+v", in)
	}
	in = e.waitState(scheduled, taskstate.Scheduled)
	if in.NextAttempt == nil || time.Until(*in.NextAttempt) < 50*time.Minute {
		t.Fatalf("scheduled: %+v, want the next attempt in about an hour", in)
	}
	if code, _, msg := e.status("st-no-such-task"); code != 1 || !strings.Contains(msg, "unknown task") {
		t.Fatalf("unknown task: exit %d %q, want 1", code, msg)
	}
	if code, body := e.get("st-no-such-task"); code != http.StatusNotFound {
		t.Fatalf("GET unknown: %d %s", code, body)
	}

	if err := e.sim.SetFault(vendorsim.TargetDhgjcloud, vendorsim.Fault{Code: "400"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetFault(vendorsim.TargetYesapi, vendorsim.Fault{Code: "http_500"}); err != nil {
		t.Fatal(err)
	}
	dead := e.record("gjy", "/api/records", "st-dead", "")
	retrying := e.record("tables", "article", "st-retry", "")
	e.startWorker()

	in = e.waitState(pending, taskstate.Done)
	if in.Result == nil || in.Result.VendorID == "" || in.Finished == nil || in.Result.Calls != 1 {
		t.Fatalf("done: %+v (result %+v), want the vendor's record id", in, in.Result)
	}
	code, body := e.get(pending)
	var got taskstate.Info
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got.State != taskstate.Done || got.Result == nil || got.Result.VendorID != in.Result.VendorID {
		t.Fatalf("GET done: %d %s", code, body)
	}

	in = e.waitState(dead, taskstate.Dead)
	if in.LastCode == "" || in.LastError == "" || in.Failures < 1 || in.Finished == nil {
		t.Fatalf("dead: %+v, want the vendor's code and error", in)
	}
	in = e.waitState(retrying, taskstate.Retry)
	if in.Failures < 1 || in.LastError == "" || in.LastCode == "" || in.NextAttempt == nil {
		t.Fatalf("retry: %+v, want failures, the last error and code, the next attempt", in)
	}
	// Still scheduled with the worker running (it is due in an hour).
	if code, in, _ := e.status(scheduled); code != 0 || in.State != taskstate.Scheduled {
		t.Fatalf("scheduled after start: exit %d %+v", code, in)
	}
}
