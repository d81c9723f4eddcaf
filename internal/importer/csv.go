package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/vendorq/vendorq/tasks"
)

// csvSource reads records with encoding/csv and keeps each record's raw
// bytes (for its reject line) with a recorder between csv and the input.
type csvSource struct {
	r        *csv.Reader
	rec      *recorder
	m        csvMapper
	width    int
	prevOff  int64 // input offset where the next record starts
	lastLine int64
	bytes    *atomic.Int64
	row      *tasks.BatchRef // Options.row
}

func newCSVSource(in io.Reader, o *Options, progress *atomic.Int64) (*csvSource, error) {
	rec := &recorder{r: in}
	r := csv.NewReader(rec)
	r.ReuseRecord = true // the mapper copies what it keeps
	header, err := r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: the file is empty; a CSV import needs a header row", ErrInput)
	case err != nil:
		return nil, fmt.Errorf("%w: header row: %w", ErrInput, err)
	}
	header = append([]string(nil), header...)
	for i := range header {
		header[i] = string(bytes.TrimSpace([]byte(header[i])))
	}
	m, err := newCSVMapper(header, o)
	if err != nil {
		return nil, err
	}
	s := &csvSource{r: r, rec: rec, m: m, width: len(header), bytes: progress, row: o.row}
	s.prevOff = r.InputOffset()
	line, _ := r.FieldPos(0)
	s.lastLine = int64(line)
	return s, nil
}

func (s *csvSource) next(r *row) error {
	s.rec.release(s.prevOff)
	fields, err := s.r.Read()
	off := s.r.InputOffset()
	s.bytes.Store(off)
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, errRecordTooLong):
		return fmt.Errorf("%w: a CSV record after line %d is over %d MiB (an unclosed quote?); rows before it were imported", ErrInput, s.lastLine, MaxRecordBytes>>20)
	case err != nil && !errors.As(err, &pe):
		return fmt.Errorf("%w: after line %d: %w", ErrInput, s.lastLine, err)
	}
	raw := s.rec.slice(s.prevOff, off)
	s.prevOff = off
	*r = row{raw: trimRaw(raw)}
	if pe != nil {
		r.line = int64(pe.StartLine)
	} else {
		line, _ := s.r.FieldPos(0)
		r.line = int64(line)
	}
	r.endLine = r.line + int64(bytes.Count(r.raw, []byte{'\n'}))
	s.lastLine = r.endLine
	switch {
	case pe != nil && errors.Is(pe.Err, csv.ErrFieldCount):
		r.reject = fmt.Errorf("wrong column count: %d, the header has %d", len(fields), s.width)
	case pe != nil:
		r.reject = fmt.Errorf("csv: %w (line %d, column %d)", pe.Err, pe.Line, pe.Column)
	default:
		at(s.row, r.line)
		r.item, r.reject = s.m.item(fields)
	}
	return nil
}

var errRecordTooLong = errors.New("csv record too long")

// recorder passes reads through and remembers the bytes from the start of
// the current record, so that csv's read-ahead does not lose them.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // input offset of buf[0]
	keep int64 // offset of the current record's start
	err  error // sticky: csv would read again after an error
}

func (c *recorder) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	if c.base+int64(len(c.buf))-c.keep > MaxRecordBytes {
		c.err = errRecordTooLong
		return n, c.err
	}
	return n, err
}

// slice returns the bytes from offset from to offset to.
func (c *recorder) slice(from, to int64) []byte {
	return c.buf[from-c.base : to-c.base]
}

// release forgets the bytes before offset off. It moves the rest down only
// when the dead prefix is large, so each byte is copied O(1) times.
func (c *recorder) release(off int64) {
	c.keep = off
	dead := int(off - c.base)
	if dead < 64<<10 || dead < len(c.buf)/2 {
		return
	}
	n := copy(c.buf, c.buf[dead:])
	c.buf = c.buf[:n]
	c.base = off
}
