package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/itest"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/vendorsim"
	"github.com/vendorq/vendorq/tasks"
	"github.com/vendorq/vendorq/vendorclient"
)

// The simulator creates the record but spoils the answer's _auth (issue 12:
// retried as transient, the same record was created 7 times). The task is
// dead-lettered at once with code untrusted_answer and the answer in its
// error: exactly one record at the vendor, one dead letter, and nothing
// left to run (its done marker stops a re-run after a lost acknowledgement).
func TestTamperedYesapiAnswerIsDeadLetteredOnce(t *testing.T) {
	sc := vendorsim.DefaultConfig()
	e := newEnv(t, srv, sc, map[string]itest.Endpoint{"tables": {Rate: 100, Concurrency: 2, MaxRetry: itest.IntPtr(8)}}, "forms", "gjy", "sms")
	if err := e.sim.SetFault(vendorsim.TargetYesapi, vendorsim.Fault{Code: "bad_auth"}); err != nil { // every answer
		t.Fatal(err)
	}
	ctx := context.Background()
	data := json.RawMessage(`{"mobile":"13088886666"}`)
	res, err := e.prod.Record(ctx, tasks.RecordCreate{Endpoint: "tables", Table: "telephone", Data: data, Key: "tampered-1"})
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker(t)
	itest.Eventually(t, 30*time.Second, func() (bool, string) {
		c, _ := e.dlq.Count(ctx, "tables")
		return c == 1, "no dead letter yet"
	})
	e.drained(t, "tables", 30*time.Second)

	st := e.sim.Stats()[vendorsim.TargetYesapi]
	if st.Calls != 1 || st.Accepted != 1 || len(st.ByKey) != 1 || st.Duplicates != 0 {
		t.Fatalf("vendor saw calls=%d accepted=%d distinct=%d duplicates=%d, want exactly one record", st.Calls, st.Accepted, len(st.ByKey), st.Duplicates)
	}
	entry, err := e.dlq.Get(ctx, "tables", res.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if entry.Code != vendorclient.CodeUntrustedAnswer || entry.Class != "permanent" || entry.Attempts != 1 {
		t.Fatalf("entry %+v, want code %s, class permanent, 1 attempt", entry, vendorclient.CodeUntrustedAnswer)
	}
	// The vendor's answer is kept (the operator decides whether the record
	// exists), without the app's credentials.
	if !strings.Contains(entry.Error, `"ret":200`) || !strings.Contains(entry.Error, `"_auth"`) {
		t.Errorf("entry error does not keep the answer: %q", entry.Error)
	}
	if strings.Contains(entry.Error, sc.Yesapi.AppSecret) || strings.Contains(entry.Error, sc.Yesapi.AppKey) {
		t.Errorf("entry error carries a credential: %q", entry.Error)
	}
	var p tasks.RecordCreate
	if err := json.Unmarshal(entry.Payload, &p); err != nil || p.Table != "telephone" || string(p.Data) != string(data) {
		t.Errorf("payload not kept for replay: %s", entry.Payload)
	}
	if n, err := e.rdb.Exists(ctx, keys.Dedupe("tables", res.TaskID)).Result(); err != nil || n != 1 {
		t.Errorf("no done marker (%d, %v): a re-run after a lost acknowledgement would call again", n, err)
	}
}
