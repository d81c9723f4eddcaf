package enqueuecli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/cliexit"
	"github.com/vendorq/vendorq/internal/redisconn"
)

// writeProducerConfig writes a config without any vendor credential: the
// endpoints give their vendor (and tuning), the SMS one keeps a credential
// line whose variable is unset.
func writeProducerConfig(t *testing.T, redisURL string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "producer.yaml")
	cfg := fmt.Sprintf(`redis: { url: %q }
endpoints:
  forms: { vendor: baibaoyun, rate: 5 }
  sms:
    vendor: caihcom
    auth_token: ${CAIHCOM_AUTH_TOKEN}
    max_retry: 3
`, redisURL)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every subcommand that opens a session works with a credential-less config.
func TestProducerConfigWithoutCredentials(t *testing.T) {
	url := testRedis.URL(testRedis.FreshDB(t))
	cfg := writeProducerConfig(t, url)
	conn, _ := redisconn.Parse(url)
	in := asynq.NewInspector(conn.Asynq)
	t.Cleanup(func() { _ = in.Close() })

	code, out, errs := cli(t, "record", "--config", cfg, "--endpoint", "forms", "--table", "app/entry", "--data", `{"a":1}`, "--key", "p-1")
	if code != 0 || out != "p-1\n" {
		t.Fatalf("record: exit %d out %q err %q", code, out, errs)
	}
	if _, err := in.GetTaskInfo("forms", "p-1"); err != nil {
		t.Fatalf("record task not on queue forms: %v", err)
	}
	code, out, errs = cli(t, "sms", "--config", cfg, "--endpoint", "sms", "--phones", "13800000000", "--content", "验证码 1", "--sign", "【X】")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("sms: exit %d out %q err %q", code, out, errs)
	}
	if _, err := in.GetTaskInfo("sms", strings.TrimSpace(out)); err != nil {
		t.Fatalf("sms task not on queue sms: %v", err)
	}
	csv := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(csv, []byte("name,city\nLi,Hangzhou\nWang,Beijing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = cli(t, "import", "--config", cfg, "--endpoint", "forms", "--table", "app/entry", csv); code != 0 {
		t.Fatalf("import: exit %d err %q", code, errs)
	}
	if q, err := in.GetQueueInfo("forms:low"); err != nil || q.Pending != 2 {
		t.Fatalf("queue forms:low: %+v %v, want the 2 imported rows pending (an import's lane is low)", q, err)
	}
	if code, out, errs = cli(t, "dlq", "count", "--config", cfg, "--endpoint", "forms"); code != 0 || out != "0\n" {
		t.Fatalf("dlq count: exit %d out %q err %q", code, out, errs)
	}
}

// A producer's config is still checked: an unknown key is exit 2 naming
// it and its line.
func TestProducerConfigStillChecked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("endpoints:\n  forms:\n    vendor: baibaoyun\n    rat: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := cli(t, "record", "--config", p, "--endpoint", "forms", "--table", "app/entry", "--data", `{}`)
	if code != cliexit.Usage || !strings.Contains(errs, `line 4: endpoints.forms.rat: unknown key "rat"`) {
		t.Fatalf("exit %d err %q; want 2 naming endpoints.forms.rat on line 4", code, errs)
	}
}
