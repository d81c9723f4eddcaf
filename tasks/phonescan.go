package tasks

import "unicode/utf8"

// The phone scanner behind MaskPhones (rules in mask.go). It works on byte
// offsets but only ever classifies whole characters: an ASCII digit or
// separator, a full-width digit or separator (3 bytes), a \uXXXX escape
// (6 bytes) or one other rune. Bytes of invalid UTF-8 are "other".

// phoneSpan locates one phone in the text: the middle four digits are
// s[mid:midEnd] and the phone ends at end.
type phoneSpan struct{ mid, midEnd, end int }

// nextPhone finds the first phone starting at or after byte from.
func nextPhone(s string, from int) (phoneSpan, bool) {
	for i := from; i < len(s); i++ {
		// Only '0' (0086), '1', '8' (86), a full-width digit (lead byte
		// 0xEF) or an escape can start a phone: skip the rest cheaply.
		switch s[i] {
		case '0', '1', '8', 0xEF:
		case '\\':
			// Never start inside an escape: \u1380 is one character.
			if r, ok := escapeAt(s, i); ok {
				if k, _ := classify(r); k != digit {
					i += 5
					continue
				}
			} else if i+1 < len(s) && s[i+1] == '\\' {
				i++ // an escaped backslash: the text after it is literal
				continue
			}
		default:
			continue
		}
		if k, _, _ := charAt(s, i); k != digit || prevIsDigit(s, i) {
			continue
		}
		if p, ok := phoneAt(s, i); ok {
			return p, true
		}
	}
	return phoneSpan{}, false
}

// phoneAt matches a phone starting exactly at i, with or without a
// country code (they begin with different digits, so at most one fits).
func phoneAt(s string, i int) (phoneSpan, bool) {
	j, ok := digitsAre(s, i, "0086")
	if !ok {
		j, ok = digitsAre(s, i, "86")
	}
	if ok {
		i = skipSep(s, j)
	}
	return mobileAt(s, i)
}

// mobileAt matches 1[3-9]X[sep]XXXX[sep]XXXX at i, not followed by a digit.
func mobileAt(s string, i int) (phoneSpan, bool) {
	var p phoneSpan
	if k, v, w := charAt(s, i); k != digit || v != 1 {
		return p, false
	} else if k, v, _ := charAt(s, i+w); k != digit || v < 3 {
		return p, false
	}
	j, ok := digits(s, i, 3)
	if !ok {
		return p, false
	}
	p.mid = skipSep(s, j)
	if p.midEnd, ok = digits(s, p.mid, 4); !ok {
		return p, false
	}
	if p.end, ok = digits(s, skipSep(s, p.midEnd), 4); !ok {
		return p, false
	}
	if k, _, _ := charAt(s, p.end); k == digit {
		return p, false
	}
	return p, true
}

// digits skips n digits from i and returns where they end.
func digits(s string, i, n int) (int, bool) {
	for range n {
		k, _, w := charAt(s, i)
		if k != digit {
			return i, false
		}
		i += w
	}
	return i, true
}

// digitsAre skips the digits of want (ASCII, in any width) from i.
func digitsAre(s string, i int, want string) (int, bool) {
	for _, c := range []byte(want) {
		k, v, w := charAt(s, i)
		if k != digit || v != c-'0' {
			return i, false
		}
		i += w
	}
	return i, true
}

// skipSep skips at most one separator.
func skipSep(s string, i int) int {
	if k, _, w := charAt(s, i); k == sep {
		return i + w
	}
	return i
}

type charKind uint8

const (
	other charKind = iota
	digit
	sep
)

// charAt classifies the character at s[i:]: its kind, its value if it is
// a digit, and its width in bytes (0 at the end of s).
func charAt(s string, i int) (charKind, byte, int) {
	if i >= len(s) {
		return other, 0, 0
	}
	if r, ok := escapeAt(s, i); ok {
		k, v := classify(r)
		return k, v, 6
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	k, v := classify(r)
	return k, v, w
}

// prevIsDigit reports whether the character that ends at i is a digit.
func prevIsDigit(s string, i int) bool {
	if i >= 6 {
		if r, ok := escapeAt(s, i-6); ok {
			k, _ := classify(r)
			return k == digit
		}
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	k, _ := classify(r)
	return k == digit
}

func classify(r rune) (charKind, byte) {
	switch {
	case '0' <= r && r <= '9':
		return digit, byte(r - '0')
	case '０' <= r && r <= '９':
		return digit, byte(r - '０')
	case r == ' ' || r == '-' || r == '\u3000' || r == '－':
		return sep, 0
	}
	return other, 0
}

// escapeAt decodes a \uXXXX escape at s[i:]. A backslash that is itself
// escaped (\\u0031 is a backslash, then "u0031") starts none.
func escapeAt(s string, i int) (rune, bool) {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	if n%2 == 1 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i+2 : i+6]) {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
