package dashboards

import (
	"regexp"

	"github.com/hibiken/asynqmon"
)

// phoneRe finds 11-digit mainland mobile numbers that are not part of a
// longer run of digits (a millisecond timestamp, a byte count), so that only
// things that look like phones are touched. Go's regexp has no look-around:
// the neighbours are captured and written back.
var phoneRe = regexp.MustCompile(`(^|[^0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})([^0-9]|$)`)

// MaskPhones hides the middle four digits of every mainland mobile number in
// s (138****0000), wherever it appears: JSON strings, error messages, text.
func MaskPhones(s string) string {
	// Two passes: adjacent phones separated by one character share that
	// character as right and left neighbour, and one pass would skip the second.
	for range 2 {
		s = phoneRe.ReplaceAllString(s, "${1}${2}****${4}${5}")
	}
	return s
}

// maskBytes is MaskPhones on bytes, without a copy when nothing matches.
func maskBytes(b []byte) []byte {
	if !phoneRe.Match(b) {
		return b
	}
	return []byte(MaskPhones(string(b)))
}

// PayloadFormatter shows task payloads in asynqmon with phones masked.
var PayloadFormatter = asynqmon.PayloadFormatterFunc(func(_ string, payload []byte) string {
	return MaskPhones(asynqmon.DefaultPayloadFormatter.FormatPayload("", payload))
})

// ResultFormatter shows task results in asynqmon with phones masked.
var ResultFormatter = asynqmon.ResultFormatterFunc(func(_ string, result []byte) string {
	return MaskPhones(asynqmon.DefaultResultFormatter.FormatResult("", result))
})
