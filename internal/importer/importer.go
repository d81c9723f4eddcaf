// Package importer streams a CSV or JSONL file onto a vendorq queue
// (`enqueue import`, docs/import.md).
//
// One reader goroutine parses the input, turns each row into a task with the
// same constructors a Go producer uses (tasks.NewRecordCreateTask,
// tasks.NewSMSSendTask) and writes every row they refuse to the rejects sink,
// in line order. Valid rows go in batches over a bounded channel to a pool
// of workers that enqueue them with producer.EnqueueBatch (one pipelined
// dedupe check per batch, then one asynq enqueue per task; the CLI passes a
// bulk producer, whose enqueues share pipelines: producer/bulk.go). Memory
// is bounded by the batch size times the pool size, never by the file.
//
// Every row gets a key: the --key-column value, or a hash of what the row
// would send (see DefaultKey), so re-running an import — after success, a
// Ctrl-C or a Redis failure — enqueues only the rows that are not in yet.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// Errors Run returns; the CLI maps them to exit codes.
var (
	// ErrUsage: the options do not fit together (exit 2).
	ErrUsage = errors.New("import")
	// ErrInput: the input cannot be read as the format (bad header, a CSV
	// record over MaxRecordBytes, a read error); rows before it were
	// handled (exit 2).
	ErrInput = errors.New("input")
	// ErrInterrupted: the context was cancelled; in-flight batches were
	// finished and Summary.ResumeLine says where a re-run picks up.
	ErrInterrupted = errors.New("interrupted")
	// ErrRejects: the rejects sink could not be written.
	ErrRejects = errors.New("rejects")
)

// Type is the kind of task every row becomes.
type Type string

// Types.
const (
	TypeRecord Type = "record" // record:create
	TypeSMS    Type = "sms"    // sms:send
)

// Format is the input syntax.
type Format string

// Formats.
const (
	FormatCSV   Format = "csv"   // a header row, then one record per row
	FormatJSONL Format = "jsonl" // one JSON object per line
)

// Defaults.
const (
	DefaultConcurrency = 16
	DefaultBatchSize   = 200
	// MaxLineBytes bounds one JSONL line: a longer line is rejected without
	// being held in memory (it could never fit tasks.MaxPayloadBytes).
	MaxLineBytes = 1 << 20
	// MaxRecordBytes bounds one CSV record. encoding/csv cannot skip a
	// record, so a longer one (usually an unclosed quote swallowing the rest
	// of the file) stops the import with ErrInput.
	MaxRecordBytes = 16 << 20
	// MaxRawBytes bounds the raw text kept in a reject line.
	MaxRawBytes = 64 << 10
)

// Enqueuer is what the pool needs from producer.Producer.
type Enqueuer interface {
	EnqueueBatch(ctx context.Context, items []producer.Item) ([]producer.Result, []bool, error)
}

// Options describe one import. Endpoint, Type and Format are required;
// Table is required for record imports. The caller has checked Endpoint and
// Table against the config (see CheckEndpoint).
type Options struct {
	Endpoint    string
	Type        Type
	Table       string
	KeyColumn   string // CSV column / JSONL field holding a business key; "" = DefaultKey
	Format      Format
	Priority    tasks.Priority  // every row's lane; "" = default (the CLI's default is low)
	Hold        []asynq.Option  // extra options of every row's task: asynq.ProcessAt from producer.Hold, or none
	Track       Tracker         // records the import's batch (track.go); nil = none
	row         *tasks.BatchRef // the row being mapped, when Track is set
	Concurrency int             // enqueue workers; 0 = DefaultConcurrency
	BatchSize   int             // rows per EnqueueBatch; 0 = DefaultBatchSize
	Rejects     RejectSink      // where rejected rows go (required)
	Progress    func(Progress)  // called a few times a second and once at the end; nil = none
	Interval    time.Duration   // between Progress calls; 0 = 200ms
}

// Progress is a snapshot for a progress display.
type Progress struct {
	Bytes                          int64 // input consumed so far
	Rows                           int64 // rows handled (enqueued + duplicates + rejected)
	Enqueued, Duplicates, Rejected int64
	Elapsed                        time.Duration
	Done                           bool // the last call
}

// Summary is what an import did.
type Summary struct {
	Enqueued   int64
	Duplicates int64
	Rejected   int64
	LastLine   int64 // last input line read
	// ResumeLine is set when the import stopped early: every row before
	// this line is handled, rows from it on may not be. A re-run of the same
	// command finishes the rest (handled rows come back as duplicates).
	ResumeLine int64
	Batch      string // the batch id (Options.Track); "" = none
}

// String is the summary line of docs/import.md.
func (s Summary) String() string {
	line := fmt.Sprintf("enqueued=%d duplicates=%d rejected=%d", s.Enqueued, s.Duplicates, s.Rejected)
	if s.Batch != "" {
		line += " batch=" + s.Batch
	}
	return line
}

func (o *Options) check() error {
	switch {
	case !tasks.ValidEndpoint(o.Endpoint):
		return fmt.Errorf("%w: --endpoint %q is not an endpoint name", ErrUsage, o.Endpoint)
	case o.Type != TypeRecord && o.Type != TypeSMS:
		return fmt.Errorf("%w: --type must be record or sms, got %q", ErrUsage, o.Type)
	case o.Format != FormatCSV && o.Format != FormatJSONL:
		return fmt.Errorf("%w: --format must be csv or jsonl, got %q", ErrUsage, o.Format)
	case o.Type == TypeRecord && strings.TrimSpace(o.Table) == "":
		return fmt.Errorf("%w: --table is required for a record import", ErrUsage)
	case o.Type == TypeSMS && o.Table != "":
		return fmt.Errorf("%w: --table is for record imports; an sms import has none", ErrUsage)
	case !validPriority(o.Priority):
		return fmt.Errorf("%w: --priority must be high, default or low, got %q", ErrUsage, o.Priority)
	case o.Rejects == nil:
		return fmt.Errorf("%w: no rejects sink", ErrUsage)
	case o.Concurrency < 0 || o.Concurrency > 1000:
		return fmt.Errorf("%w: --concurrency must be between 1 and 1000", ErrUsage)
	case o.BatchSize < 0 || o.BatchSize > 10000:
		return fmt.Errorf("%w: batch size must be between 1 and 10000", ErrUsage)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Interval == 0 {
		o.Interval = 200 * time.Millisecond
	}
	return nil
}

// counters are shared by the reader, the workers and the progress ticker.
type counters struct {
	bytes, enqueued, duplicates, rejected atomic.Int64
}

func (c *counters) snapshot(start time.Time, done bool) Progress {
	p := Progress{
		Bytes: c.bytes.Load(), Enqueued: c.enqueued.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), Elapsed: time.Since(start), Done: done,
	}
	p.Rows = p.Enqueued + p.Duplicates + p.Rejected
	return p
}

// Run imports in onto q. It always returns the summary of what was done;
// the error is nil, or wraps ErrUsage, ErrInput, ErrInterrupted, ErrRejects
// or producer.ErrRedis. Rejected rows are not an error (Summary.Rejected).
func Run(ctx context.Context, in io.Reader, q Enqueuer, opts Options) (Summary, error) {
	if err := opts.check(); err != nil {
		return Summary{}, err
	}
	var c counters
	if opts.Track != nil {
		opts.row = &tasks.BatchRef{Batch: opts.Track.ID()}
	}
	src, err := newSource(in, &opts, &c)
	if err != nil {
		return Summary{}, err
	}
	start := time.Now()
	stopProgress := startProgress(&opts, &c, start)

	// The reader stops on the caller's ctx (Ctrl-C) or when a worker saw
	// Redis fail; workers enqueue with a context that outlives a Ctrl-C so
	// that the batches already read are finished, not half-done.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	p := newPool(context.WithoutCancel(ctx), q, &c, opts.Concurrency, stopReading)
	p.track = opts.Track
	rd := &reader{src: src, opts: &opts, c: &c, pool: p}
	readErr := rd.run(readCtx)
	p.close()

	stopProgress()
	sum := Summary{
		Enqueued: c.enqueued.Load(), Duplicates: c.duplicates.Load(), Rejected: c.rejected.Load(),
		LastLine: rd.lastLine,
	}
	if opts.Track != nil {
		sum.Batch = opts.Track.ID()
	}
	switch {
	case p.err != nil:
		sum.ResumeLine = p.resumeLine
		return sum, p.err
	case readErr != nil:
		sum.ResumeLine = rd.resumeLine
		return sum, readErr
	case ctx.Err() != nil && !rd.eof:
		sum.ResumeLine = rd.resumeLine
		return sum, fmt.Errorf("%w: stopped before line %d", ErrInterrupted, rd.resumeLine)
	}
	return sum, nil
}

func startProgress(opts *Options, c *counters, start time.Time) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				opts.Progress(c.snapshot(start, false))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		opts.Progress(c.snapshot(start, true))
	}
}

// validPriority reports whether p names a lane ("" is the default one).
func validPriority(p tasks.Priority) bool {
	_, err := tasks.ParsePriority(string(p))
	return err == nil
}
