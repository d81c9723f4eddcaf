package importer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/vendorq/vendorq/internal/producer"
)

// batch is a run of valid rows handed to one worker.
type batch struct {
	items []producer.Item
	lines []int64 // lines[i] is the input line of items[i]
}

// pool enqueues batches with N workers over the shared asynq client. A
// Redis failure in any worker stops the reader and makes the other workers
// skip what is left, so the import ends soon after Redis does.
type pool struct {
	ctx   context.Context
	q     Enqueuer
	c     *counters
	jobs  chan *batch
	wg    sync.WaitGroup
	stop  func()  // stops the reader
	track Tracker // nil = no batch
	fail  atomic.Bool
	mu    sync.Mutex
	err   error // the first Redis failure
	// resumeLine is the smallest line whose row may not be in after a
	// failure: the first unfinished row of a failed or skipped batch.
	resumeLine int64
}

func newPool(ctx context.Context, q Enqueuer, c *counters, n int, stop func()) *pool {
	p := &pool{ctx: ctx, q: q, c: c, jobs: make(chan *batch, n), stop: stop}
	p.wg.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// submit hands a batch over; it blocks while every worker is busy and the
// queue is full, which is what bounds memory.
func (p *pool) submit(b *batch) { p.jobs <- b }

// close waits for every submitted batch.
func (p *pool) close() {
	close(p.jobs)
	p.wg.Wait()
}

func (p *pool) work() {
	defer p.wg.Done()
	for b := range p.jobs {
		if p.fail.Load() {
			p.unfinished(b.lines[0], nil)
			continue
		}
		res, done, err := p.q.EnqueueBatch(p.ctx, b.items)
		if p.track != nil {
			// What went in is noted even when Redis failed after part of it.
			if terr := p.track.Record(p.ctx, b.lines, b.items, res, done); terr != nil && err == nil {
				err, done = terr, make([]bool, len(done)) // a re-run redoes the batch (as duplicates) and notes it
			}
		}
		var enq, dup int64
		first := -1
		for i := range done {
			switch {
			case !done[i]:
				if first < 0 {
					first = i
				}
			case res[i].Duplicate:
				dup++
			default:
				enq++
			}
		}
		p.c.enqueued.Add(enq)
		p.c.duplicates.Add(dup)
		if err != nil {
			if first < 0 {
				first = 0
			}
			p.unfinished(b.lines[first], fmt.Errorf("line %d: %w", b.lines[first], err))
		}
	}
}

// unfinished records that rows from line on (in one batch) may not be in.
func (p *pool) unfinished(line int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumeLine == 0 || line < p.resumeLine {
		p.resumeLine = line
	}
	if err != nil && p.err == nil {
		p.err = err
		p.fail.Store(true)
		p.stop()
	}
}
