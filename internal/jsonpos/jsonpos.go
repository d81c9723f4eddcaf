// Package jsonpos says where in a JSON text a byte is, the same way for the
// HTTP API's errors and the enqueue command's (--data).
package jsonpos

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Where renders the position of the byte at index pos (0-based) of b as
// "at line L, column C (byte offset N)"; columns count characters. pos is
// clamped to b.
func Where(b []byte, pos int64) string {
	pos = max(0, min(pos, int64(len(b))))
	before := b[:pos]
	line := 1 + bytes.Count(before, []byte("\n"))
	col := 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return fmt.Sprintf("at line %d, column %d (byte offset %d)", line, col, pos)
}
