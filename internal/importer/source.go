package importer

import (
	"bufio"
	"bytes"
	"io"
	"sync/atomic"

	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// row is one input row, mapped: either item or reject is set. raw is a view
// into the source's buffer, valid until the next call of next.
type row struct {
	line    int64 // first physical line of the row (1-based)
	endLine int64 // last physical line (multi-line quoted CSV fields)
	raw     []byte
	item    producer.Item
	reject  error
	cut     bool // raw is only the start of an over-long row
}

// source yields rows until io.EOF; any other error stops the import.
type source interface {
	next(r *row) error
}

var bom = []byte("\xEF\xBB\xBF")

// newSource reads what the format needs up front (the CSV header) and
// returns the row source. bytesRead is kept up to date for progress.
func newSource(in io.Reader, o *Options, c *counters) (source, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	// A UTF-8 byte order mark (Excel's "CSV UTF-8") is not part of the data.
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	if o.Format == FormatCSV {
		return newCSVSource(br, o, &c.bytes)
	}
	return &jsonlSource{lr: lineReader{br: br}, m: newLineMapper(o), bytes: &c.bytes, row: o.row}, nil
}

// trimRaw drops the blank lines csv skipped before a record and its newline.
func trimRaw(b []byte) []byte {
	return bytes.Trim(b, "\r\n")
}

// jsonlSource reads one JSON value per line. Blank lines are skipped.
type jsonlSource struct {
	lr    lineReader
	m     lineMapper
	bytes *atomic.Int64
	row   *tasks.BatchRef // Options.row
}

func (s *jsonlSource) next(r *row) error {
	for {
		line, long, err := s.lr.next()
		s.bytes.Store(s.lr.off)
		if err != nil {
			return err
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 && !long {
			continue
		}
		*r = row{line: s.lr.line, endLine: s.lr.line, raw: bytes.TrimRight(line, "\r")}
		if long {
			r.cut = true
			r.reject = errLineTooLong
			return nil
		}
		at(s.row, r.line)
		r.item, r.reject = s.m.item(t)
		return nil
	}
}
