package tasks

import (
	"regexp"
	"strings"
)

// embeddedPhoneRe finds 11-digit mainland mobile numbers that are not part of a
// longer run of digits (a millisecond timestamp, a byte count), so that only
// things that look like phones are touched. Go's regexp has no look-around:
// the neighbours are captured and written back.
var embeddedPhoneRe = regexp.MustCompile(`(^|[^0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})([^0-9]|$)`)

// MaskPhones hides the middle four digits of every mainland mobile number in
// s (138****0000), wherever it appears: JSON strings, error messages, text.
func MaskPhones(s string) string {
	// Two passes: adjacent phones separated by one character share that
	// character as right and left neighbour, and one pass would skip the second.
	for range 2 {
		s = embeddedPhoneRe.ReplaceAllString(s, "${1}${2}****${4}${5}")
	}
	return s
}

// ContainsPhone reports whether b holds something MaskPhones would mask.
func ContainsPhone(b []byte) bool { return embeddedPhoneRe.Match(b) }

// MaskPhone hides the middle of one phone number for logs: 138****0000.
func MaskPhone(p string) string {
	if len(p) < 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}
