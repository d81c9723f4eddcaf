package batch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/vendorq/vendorq/internal/keys"
	"github.com/vendorq/vendorq/internal/taskstate"
)

// Row is one line of a batch report.
type Row struct {
	Line      int64  `json:"line"`
	Endpoint  string `json:"endpoint,omitempty"` // in a batch of several endpoints (an HTTP batch)
	TaskID    string `json:"task_id"`
	State     string `json:"state"`
	VendorID  string `json:"vendor_id,omitempty"`
	Code      string `json:"code,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"` // the row's task was already in: its state is that task's
}

// reportPage is the chunks read per round trip: 10 × keys.BatchChunk rows.
const reportPage = 10

// Report calls fn for every row of the batch, in line order, reading
// reportPage chunks at a time (two round trips per page): memory stays
// bounded by a page, whatever the batch's size.
func Report(ctx context.Context, rdb redis.UniversalClient, id string, fn func(Row) error) error {
	m, err := rdb.HMGet(ctx, keys.BatchMeta(id), fEndpoint, fMaxLine).Result()
	if err != nil {
		return fmt.Errorf("read batch %s: %w", id, err)
	}
	ep, ok := m[0].(string)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	mixed := ep == ""
	maxLine, _ := strconv.ParseInt(fmt.Sprint(m[1]), 10, 64)
	last := maxLine / keys.BatchChunk
	for c := int64(0); c <= last; c += reportPage {
		rows, err := readChunks(ctx, rdb, id, c, min(c+reportPage, last+1), mixed)
		if err != nil {
			return err
		}
		if err := fill(ctx, rdb, ep, rows); err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// readChunks reads chunks [from, to) and returns their rows in line order.
func readChunks(ctx context.Context, rdb redis.UniversalClient, id string, from, to int64, mixed bool) ([]Row, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, 0, to-from)
	for c := from; c < to; c++ {
		cmds = append(cmds, pipe.HGetAll(ctx, keys.BatchRows(id, c)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read batch %s rows: %w", id, err)
	}
	var rows []Row
	for i, cmd := range cmds {
		base := (from + int64(i)) * keys.BatchChunk
		start := len(rows)
		for off, v := range cmd.Val() {
			o, err := strconv.ParseInt(off, 10, 64)
			if err != nil {
				continue
			}
			r := Row{Line: base + o, TaskID: v}
			if t, ok := strings.CutPrefix(r.TaskID, "+"); ok {
				r.TaskID, r.Duplicate = t, true
			}
			if mixed {
				r.Endpoint, r.TaskID, _ = strings.Cut(r.TaskID, "/")
			}
			r.TaskID = unpackID(r.TaskID)
			rows = append(rows, r)
		}
		slices.SortFunc(rows[start:], func(a, b Row) int { return int(a.Line - b.Line) })
	}
	return rows, nil
}

// fill sets each row's state from its task (taskstate.Briefs), asking
// each endpoint of the page for its rows (ep, or the rows' own).
func fill(ctx context.Context, rdb redis.UniversalClient, ep string, rows []Row) error {
	byEP := map[string][]int{}
	for i, r := range rows {
		e := ep
		if e == "" {
			e = r.Endpoint
		}
		byEP[e] = append(byEP[e], i)
	}
	for e, idx := range byEP {
		ids := make([]string, len(idx))
		for k, i := range idx {
			ids[k] = rows[i].TaskID
		}
		bs, err := taskstate.Briefs(ctx, rdb, e, ids)
		if err != nil {
			return err
		}
		for k, b := range bs {
			r := &rows[idx[k]]
			r.State, r.VendorID, r.Code = b.State, b.VendorID, b.Code
		}
	}
	return nil
}
