package importer

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// Reject is one line of the rejects file.
type Reject struct {
	Line   int64  `json:"line"`   // first line of the row in the input (1-based; a CSV header is line 1)
	Reason string `json:"reason"` // why the row was not enqueued
	// Raw is the row as it was in the input, without its newline. Bytes that
	// are not UTF-8 are replaced by U+FFFD; RawBase64 then holds the exact bytes.
	Raw       string `json:"raw"`
	RawBase64 string `json:"raw_base64,omitempty"`
	Truncated bool   `json:"truncated,omitempty"` // Raw is only the first MaxRawBytes of the row
}

func newReject(r *row) Reject {
	raw, cut := r.raw, r.cut
	if len(raw) > MaxRawBytes {
		raw, cut = raw[:MaxRawBytes], true
	}
	rj := Reject{Line: r.line, Reason: r.reject.Error(), Truncated: cut}
	if utf8.Valid(raw) {
		rj.Raw = string(raw)
	} else {
		rj.Raw = strings.ToValidUTF8(string(raw), "\uFFFD")
		rj.RawBase64 = base64.StdEncoding.EncodeToString(raw)
	}
	return rj
}

// RejectSink receives the rejected rows in input order.
type RejectSink interface {
	Reject(Reject) error
}

// RejectFile writes rejects as JSON lines to a file that is created (or
// truncated) at the first reject, so a clean import leaves no file. Close
// removes a rejects file an earlier run left at the same path when this run
// rejected nothing: the file always describes the latest run.
type RejectFile struct {
	Path string
	f    *os.File
	w    *bufio.Writer
	enc  *json.Encoder
	n    int64
}

// Reject writes one line.
func (rf *RejectFile) Reject(r Reject) error {
	if rf.f == nil {
		f, err := os.OpenFile(rf.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRejects, err)
		}
		rf.f, rf.w = f, bufio.NewWriter(f)
		rf.enc = json.NewEncoder(rf.w)
		rf.enc.SetEscapeHTML(false)
	}
	rf.n++
	if err := rf.enc.Encode(r); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRejects, rf.Path, err)
	}
	return nil
}

// Count is the number of rejects written.
func (rf *RejectFile) Count() int64 { return rf.n }

// Close flushes the file, or removes a stale one when nothing was rejected.
func (rf *RejectFile) Close() error {
	if rf.f == nil {
		if err := os.Remove(rf.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: remove stale %s: %w", ErrRejects, rf.Path, err)
		}
		return nil
	}
	err := rf.w.Flush()
	if cerr := rf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRejects, rf.Path, err)
	}
	return nil
}
