package importer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// DefaultKeyPrefix starts every default key (and so every task ID an
// import without --key-column gives), which tells them apart in the
// dashboard from keys a producer chose.
const DefaultKeyPrefix = "imp:"

// DefaultKey is the idempotency key of a row imported without --key-column:
// "imp:" and 32 hex digits of SHA-256 over the endpoint, the task type, the
// table and the row's canonical content (see canonical parts in rows.go).
// Identical rows get the same key, so a re-run of a file — or a second copy
// of a row inside it — is a duplicate rather than a second task. The key
// is plain enough to be the asynq task ID itself (tasks.TaskID).
func DefaultKey(endpoint string, typ Type, table string, parts ...string) string {
	var k keyer
	k.start(endpoint, typ, table)
	for _, p := range parts {
		k.addString(p)
	}
	return k.sum()
}

// keyer computes DefaultKey without allocating per part. Every part is
// length-prefixed, so no choice of separators can make two rows collide.
type keyer struct {
	h       hash.Hash
	n       [8]byte
	scratch []byte
	out     [len(DefaultKeyPrefix) + 32]byte
	sum256  [sha256.Size]byte
}

func (k *keyer) start(endpoint string, typ Type, table string) {
	if k.h == nil {
		k.h = sha256.New()
	}
	k.h.Reset()
	k.addString(endpoint)
	k.addString(string(typ))
	k.addString(table)
}

func (k *keyer) addString(s string) {
	k.scratch = append(k.scratch[:0], s...)
	k.addBytes(k.scratch)
}

func (k *keyer) addBytes(b []byte) {
	binary.BigEndian.PutUint64(k.n[:], uint64(len(b)))
	k.h.Write(k.n[:])
	k.h.Write(b)
}

func (k *keyer) sum() string {
	s := k.h.Sum(k.sum256[:0])
	copy(k.out[:], DefaultKeyPrefix)
	hex.Encode(k.out[len(DefaultKeyPrefix):], s[:16])
	return string(k.out[:])
}
