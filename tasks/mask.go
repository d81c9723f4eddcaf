package tasks

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Phone masking, shared by every output that may carry a phone: log lines
// (handlers/), the dashboard (dashboards/mask.go) and `enqueue dlq list`
// (internal/enqueuecli/dlq.go).
//
// A phone is a mainland mobile number 1[3-9]X XXXX XXXX:
//   - digits are ASCII or full-width (０-９, U+FF10-U+FF19), mixed freely;
//   - the 3-4-4 groups may be split by one separator each: a space, '-',
//     U+3000 (ideographic space) or U+FF0D (full-width '-');
//   - it may carry the country code 86 or 0086 (after '+' or not), followed
//     by at most one separator: +86 138 0000 0000, 8613800000000;
//   - a \uXXXX escape (JSON text from a client that escapes non-ASCII, such
//     as Python's json.dumps) counts as the character it stands for;
//   - it is not part of a longer run of digits: 1700000000000 (a millisecond
//     timestamp) or 8612345678901 (86 followed by a non-mobile) stay as they
//     are. Letters and punctuation next to it do not matter.
//
// Masking replaces the four middle digits (the second group) by "****" and
// leaves every other byte as written: the country code, the separators, the
// first three and last four digits, their width. So 13800000000 becomes
// 138****0000, "+86 138 0000 0000" becomes "+86 138 **** 0000" and
// １３８００００００００ becomes １３８****００００.
//
// A scanner rather than a regexp: Go's regexp has no look-around, so the
// "not next to another digit" rule took captured neighbours and two passes,
// and spelling out full-width digits, escapes and separators in it made it
// both unreadable and slower on every error line (see BenchmarkMaskPhones).
// The scanner only ever replaces whole characters, so it cannot split a
// UTF-8 sequence, and copies every byte it does not recognise (invalid
// UTF-8 included) unchanged.

// MaskPhones hides the middle four digits of every phone in s (138****0000),
// wherever it appears: JSON text, error messages, log lines.
func MaskPhones(s string) string {
	p, ok := nextPhone(s, 0)
	if !ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for ; ok; p, ok = nextPhone(s, p.end) {
		b.WriteString(s[last:p.mid])
		b.WriteString("****")
		last = p.midEnd
	}
	b.WriteString(s[last:])
	return b.String()
}

// ContainsPhone reports whether b holds something MaskPhones would mask.
func ContainsPhone(b []byte) bool {
	_, ok := nextPhone(string(b), 0)
	return ok
}

// MaskPhone hides the middle of one phone number for logs. A phone in a
// form MaskPhones knows comes out as MaskPhones writes it (138****0000,
// +86 138 **** 0000); anything else, such as an invalid number being
// reported, keeps only its first three and last four characters, and
// fewer than eight characters are hidden whole.
func MaskPhone(p string) string {
	if m := MaskPhones(p); m != p {
		return m
	}
	n := utf8.RuneCountInString(p)
	if n < 8 {
		return strings.Repeat("*", n)
	}
	head := 0
	for range 3 {
		_, w := utf8.DecodeRuneInString(p[head:])
		head += w
	}
	tail := len(p)
	for range 4 {
		_, w := utf8.DecodeLastRuneInString(p[:tail])
		tail -= w
	}
	return p[:head] + strings.Repeat("*", n-7) + p[tail:]
}

// MaskPhonesJSON is MaskPhones for a JSON document that must stay valid
// JSON (`enqueue dlq list --json`): phones inside strings are masked in
// place, and a number that is a phone ("mobile":13812345678) becomes the
// string "138****5678", since 138****5678 is not JSON. Input that is not
// valid JSON is masked as text.
func MaskPhonesJSON(raw []byte) []byte {
	if !ContainsPhone(raw) {
		return raw
	}
	if !json.Valid(raw) {
		return []byte(MaskPhones(string(raw)))
	}
	out := make([]byte, 0, len(raw)+8)
	for i := 0; i < len(raw); {
		j := jsonTokenEnd(raw, i)
		tok := string(raw[i:j])
		m := MaskPhones(tok)
		if m != tok && raw[i] != '"' {
			m = `"` + m + `"`
		}
		out = append(out, m...)
		i = j
	}
	return out
}

// jsonTokenEnd returns the end of the token of valid JSON starting at i: a
// whole string literal, a whole number, or one byte of anything else.
// Phones never span two tokens: quotes, commas and brackets are not
// separators.
func jsonTokenEnd(raw []byte, i int) int {
	j := i + 1
	switch c := raw[i]; {
	case c == '"':
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' {
				j++
			}
			j++
		}
		return min(j+1, len(raw))
	case c == '-' || '0' <= c && c <= '9':
		for j < len(raw) && strings.IndexByte("+-.eE0123456789", raw[j]) >= 0 {
			j++
		}
	}
	return j
}
