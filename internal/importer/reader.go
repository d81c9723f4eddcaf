package importer

import (
	"context"
	"errors"
	"io"

	"github.com/vendorq/vendorq/internal/producer"
)

// reader is the single goroutine that parses the input, writes rejects in
// line order and fills batches for the pool.
type reader struct {
	src  source
	opts *Options
	c    *counters
	pool *pool

	lastLine   int64 // last line read
	resumeLine int64 // first line not read when it stopped early
	eof        bool
}

// run reads until EOF, ctx is done (Ctrl-C or a Redis failure in the pool)
// or the input fails. The rows read so far are always submitted: stopping
// never drops a row that was read.
func (rd *reader) run(ctx context.Context) error {
	size := rd.opts.BatchSize
	b := &batch{items: make([]producer.Item, 0, size), lines: make([]int64, 0, size)}
	flush := func() {
		if len(b.items) > 0 {
			rd.pool.submit(b)
			b = &batch{items: make([]producer.Item, 0, size), lines: make([]int64, 0, size)}
		}
	}
	defer flush()
	done := ctx.Done()
	var r row
	for {
		select {
		case <-done:
			rd.resumeLine = rd.lastLine + 1
			return nil
		default:
		}
		err := rd.src.next(&r)
		if errors.Is(err, io.EOF) {
			rd.eof = true
			return nil
		}
		if err != nil {
			rd.resumeLine = rd.lastLine + 1
			return err
		}
		rd.lastLine = r.endLine
		if r.reject != nil {
			rd.c.rejected.Add(1)
			if err := rd.opts.Rejects.Reject(newReject(&r)); err != nil {
				rd.resumeLine = r.line
				return err
			}
			continue
		}
		b.items = append(b.items, r.item)
		b.lines = append(b.lines, r.line)
		if len(b.items) == size {
			flush()
		}
	}
}
