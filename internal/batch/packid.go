package batch

import (
	"encoding/hex"
	"strings"
)

// A row's task id is stored packed when it is an import's default one
// ("imp:" and 32 hex digits, internal/importer DefaultKey): a 0 byte and
// the 16 bytes those digits spell, 17 bytes instead of 36. That is most
// of what a row costs (docs/batches.md). Any other id is stored as it is:
// no task id starts with a 0 byte (tasks.TaskID).

const (
	defaultIDPrefix = "imp:"
	packedMark      = "\x00"
)

func packID(id string) string {
	h, ok := strings.CutPrefix(id, defaultIDPrefix)
	if !ok || len(h) != 32 || strings.ToLower(h) != h {
		return id
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(h)); err != nil {
		return id
	}
	return packedMark + string(b[:])
}

func unpackID(v string) string {
	raw, ok := strings.CutPrefix(v, packedMark)
	if !ok || len(raw) != 16 {
		return v
	}
	return defaultIDPrefix + hex.EncodeToString([]byte(raw))
}
