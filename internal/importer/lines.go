package importer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

var errLineTooLong = fmt.Errorf("line over %d bytes (a row must fit %d bytes of payload)", MaxLineBytes, 256<<10)

// lineReader splits input into lines without ever holding more than
// MaxLineBytes of one line: bufio.Scanner would stop at its limit, and
// ReadBytes would hold any length.
type lineReader struct {
	br   *bufio.Reader
	acc  []byte // a line longer than br's buffer, or its first MaxRawBytes
	off  int64  // bytes consumed
	line int64  // number of the line last returned
	eof  bool
}

// next returns the next line without its "\n". long reports a line over
// MaxLineBytes, of which only the first MaxRawBytes are returned.
func (l *lineReader) next() (line []byte, long bool, err error) {
	if l.eof {
		return nil, false, io.EOF
	}
	frag, err := l.br.ReadSlice('\n')
	l.off += int64(len(frag))
	if errors.Is(err, bufio.ErrBufferFull) {
		l.acc = append(l.acc[:0], frag...)
		for errors.Is(err, bufio.ErrBufferFull) {
			frag, err = l.br.ReadSlice('\n')
			l.off += int64(len(frag))
			if long {
				continue
			}
			if len(l.acc)+len(frag) > MaxLineBytes {
				long = true
				l.acc = l.acc[:MaxRawBytes]
				continue
			}
			l.acc = append(l.acc, frag...)
		}
		frag = l.acc
	}
	switch {
	case err == io.EOF:
		l.eof = true
		if len(frag) == 0 {
			return nil, false, io.EOF
		}
	case err != nil:
		return nil, false, err
	}
	l.line++
	if n := len(frag); n > 0 && frag[n-1] == '\n' {
		frag = frag[:n-1]
	}
	if !long && len(frag) > MaxLineBytes {
		long = true
		frag = frag[:MaxRawBytes]
	}
	return frag, long, nil
}
