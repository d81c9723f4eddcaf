package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/api"
	"github.com/vendorq/vendorq/internal/batch"
)

// A batch request's answer carries a batch id whose batch counts what the
// request enqueued (a duplicate apart), and whose report lists each
// enqueued item at its index + 1 with its own endpoint.
func TestBatchAnswerCarriesBatchID(t *testing.T) {
	var e *env
	e = newEnv(t, func(o *api.Options) {
		o.NewBatch = func(ctx context.Context) (*batch.Tracker, error) {
			return batch.Start(ctx, e.rdb, batch.Meta{Source: "api"}, time.Hour)
		}
	})
	body := batchOf(t,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":0},"key":"bid-0"}}`,
		`{"type":"sms","task":`+goodSMS+`}`,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":0},"key":"bid-0"}}`, // same key: a duplicate
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"i":1},"batch":"x","line":3}}`,
	)
	a := e.do("POST", "/v1/tasks:batch", body)
	br := decodeBatch(t, a)
	if br.BatchID == "" || br.Accepted != 2 || br.Rejected != 1 || br.Results[3].Error == nil || !strings.Contains(br.Results[3].Error.Field, "batch") {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	ctx := context.Background()
	st, err := batch.Get(ctx, e.rdb, br.BatchID, time.Now())
	if err != nil || st.Enqueued != 2 || st.Pending != 2 || st.Done != 0 {
		t.Fatalf("batch status %+v %v", st, err)
	}
	var rows []batch.Row
	if err := batch.Report(ctx, e.rdb, br.BatchID, func(r batch.Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 1 || rows[0].Endpoint != "forms" || rows[0].TaskID != "bid-0" || rows[0].State != "pending" ||
		rows[1].Line != 2 || rows[1].Endpoint != "sms" || rows[1].TaskID != br.Results[1].TaskID {
		t.Fatalf("report %+v", rows)
	}
}
