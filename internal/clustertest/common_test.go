package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/workertest"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/enqueuecli"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/internal/redisconn"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/internal/worker"
)

func newLog(t *testing.T) (zerolog.Logger, *itest.Buffer) {
	lb := &itest.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			s := lb.String()
			if len(s) > 8000 {
				s = "…" + s[len(s)-8000:]
			}
			t.Logf("logs:\n%s", s)
		}
	})
	return zerolog.New(lb).Level(zerolog.WarnLevel).With().Timestamp().Logger(), lb
}

// stack is vendorq on one Redis deployment: config file, producer, worker,
// all four vendors simulated.
type stack struct {
	t        *testing.T
	cfgPath  string
	cfg      *config.Config
	conn     redisconn.Conn
	rdb      redis.UniversalClient
	client   *asynq.Client
	producer *producer.Producer
	sim      *vendorsim.Sim
	log      zerolog.Logger
	logs     *itest.Buffer
}

func newStack(t *testing.T, redisURL string) *stack {
	t.Helper()
	sim := vendorsim.New(vendorsim.DefaultConfig())
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	d := sim.Config()
	yaml := fmt.Sprintf(`
redis: { url: %q }
endpoints:
  forms:  { vendor: baibaoyun, base_url: %q, api_key: %q, rate: 5, burst: 1, concurrency: 5 }
  tables: { vendor: yesapi, base_url: %q, app_key: %q, app_secret: %q, rate: 20, max_retry: 1 }
  gjy:    { vendor: dhgjcloud, base_url: %q, client_id: %q, client_secret: %q, rate: 10 }
  sms:    { vendor: caihcom, base_url: %q, appkey: %q, app_id: %q, auth_token: %q, rate: 10 }
`, redisURL, hs.URL, d.Baibaoyun.APIKey, hs.URL+"/", d.Yesapi.AppKey, d.Yesapi.AppSecret,
		hs.URL, d.Dhgjcloud.ClientID, d.Dhgjcloud.ClientSecret, hs.URL, d.Caihcom.AppKey, d.Caihcom.AppID, d.Caihcom.AuthToken)
	path := filepath.Join(t.TempDir(), "vendorq.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Path: path, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := redisconn.Parse(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := conn.NewClient()
	t.Cleanup(func() { _ = rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	log, logs := newLog(t)
	return &stack{
		t: t, cfgPath: path, cfg: cfg, conn: conn, rdb: rdb, client: client,
		producer: producer.New(cfg, client, rdb), sim: sim, log: log, logs: logs,
	}
}

// startWorker starts the worker, with the default rate-limit tuning (the
// send-time guard absorbs late wake-ups); it is shut down when the test ends.
func (s *stack) startWorker() *worker.Worker {
	s.t.Helper()
	return s.startWorkerWith(worker.Options{PollInterval: 100 * time.Millisecond})
}

// startWorkerWith starts a worker with o, the stack's log and a 5 s
// drain; it is shut down when the test ends.
func (s *stack) startWorkerWith(o worker.Options) *worker.Worker {
	s.t.Helper()
	o.Log, o.ShutdownTimeout = s.log, 5*time.Second
	return workertest.StartOn(s.t, s.cfg, s.conn, s.rdb, o)
}

// enqueueCLI runs the enqueue command against the stack's config.
func (s *stack) enqueueCLI(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = enqueuecli.Main(ctx, append(args, "--config", s.cfgPath), enqueuecli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		IsTerminal: func(io.Writer) bool { return false },
	})
	return code, out.String(), errb.String()
}

// accepted returns how many calls the simulated vendor accepted.
func (s *stack) accepted(target string) int64 { return s.sim.Stats()[target].Accepted }

// unfinished counts the tasks of the endpoints' queues that are not done yet.
func (s *stack) unfinished() (int, error) {
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	n := 0
	for _, q := range s.cfg.EndpointNames() {
		qi, err := insp.GetQueueInfo(q)
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				continue
			}
			return 0, err
		}
		n += qi.Pending + qi.Active + qi.Scheduled + qi.Retry
	}
	return n, nil
}
