package vendorclient

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reading scalars out of vendor answers. The vendors' own samples disagree
// on types (yesapi's id is a number in one sample and a string in another;
// a gateway may quote a numeric code), so every decoder reads members raw
// and turns them into values here.

// maxMessage bounds a vendor message kept in *Error.Message or a warning,
// in bytes; the cut never splits a UTF-8 character.
const maxMessage = 512

// cutMark ends a message that boundMessage cut.
const cutMark = "…"

// jsonInt reads an integer sent as a JSON number or a numeric string.
func jsonInt(raw []byte) (int, bool) {
	s := strings.TrimSpace(jsonText(raw))
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	// 4004.0 and 4.004e3 are still 4004.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f > 1e9 || f < -1e9 || f != math.Trunc(f) { // NaN fails the last test
		return 0, false
	}
	return int(f), true
}

// jsonText returns a JSON string's value, or the raw text of any other
// scalar (a number stays exactly as sent); "" for null, objects and arrays.
func jsonText(raw []byte) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case '"':
		return jsonString(t)
	case '{', '[', 'n':
		return ""
	}
	if !json.Valid(t) {
		return ""
	}
	return string(t)
}

// jsonString returns a JSON string's value, "" for anything else (for
// members that must be strings, such as an access token).
func jsonString(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// boundMessage makes a vendor message fit for logs: trimmed, valid UTF-8,
// at most maxMessage bytes (plus cutMark when cut).
func boundMessage(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + cutMark
}
