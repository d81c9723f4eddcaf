package batch_test

import (
	"context"
	"testing"
	"time"

	"github.com/vendorq/vendorq/internal/batch"
	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// The end script counts a line once however often it runs (a handler run
// again after a lost acknowledgement), moves a replayed dead task to done,
// never counts a done line dead, and does not bring an expired batch back.
func TestEndCountsEachLineOnce(t *testing.T) {
	rdb := srv.Client(t, srv.FreshDB(t))
	ctx := context.Background()
	tr, err := batch.Start(ctx, rdb, batch.Meta{Endpoint: "forms", Type: tasks.TypeRecordCreate, Source: "t.csv"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	items := []producer.Item{{Endpoint: "forms"}, {Endpoint: "forms"}, {Endpoint: "forms"}}
	res := []producer.Result{{TaskID: "a"}, {TaskID: "b"}, {TaskID: "a", Duplicate: true}}
	if err := tr.Record(ctx, []int64{2, 3, 4}, items, res, []bool{true, true, true}); err != nil {
		t.Fatal(err)
	}
	end := func(line int64, dead bool) {
		pipe := rdb.Pipeline()
		batch.End(ctx, pipe, tr.Ref(line), dead, time.Now(), time.Hour)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, done, dead, pending int64) {
		t.Helper()
		st, err := batch.Get(ctx, rdb, tr.ID(), time.Now())
		if err != nil || st.Done != done || st.Dead != dead || st.Pending != pending || st.Enqueued != 2 || st.Duplicates != 1 {
			t.Fatalf("%s: %+v %v, want done=%d dead=%d pending=%d", when, st, err, done, dead, pending)
		}
	}
	check("before", 0, 0, 2)
	end(2, false)
	end(2, false)
	check("line 2 done twice", 1, 0, 1)
	end(2, true)
	check("line 2 dead after done", 1, 0, 1)
	end(3, true)
	end(3, true)
	check("line 3 dead twice", 1, 1, 0)
	end(3, false)
	check("line 3 replayed and done", 2, 0, 0)

	if err := rdb.Del(ctx, keys.BatchMeta(tr.ID())).Err(); err != nil {
		t.Fatal(err)
	}
	end(4, false)
	if n, _ := rdb.Exists(ctx, keys.BatchMeta(tr.ID())).Result(); n != 0 {
		t.Fatal("an expired batch came back")
	}
	if _, err := batch.Get(ctx, rdb, tr.ID(), time.Now()); err == nil {
		t.Fatal("status of an expired batch")
	}
}
