package tasks

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The masking table: every form of phone MaskPhones must catch, and the
// digit runs it must leave alone (rules in mask.go).
var maskTable = []struct{ name, in, want string }{
	// Bare mobiles, wherever they sit.
	{"bare", "13800000000", "138****0000"},
	{"json list", `{"phones":["13812345678","13987654321","15011112222"]}`, `{"phones":["138****5678","139****4321","150****2222"]}`},
	{"letters and punctuation around", "a13812345678,13912345678;18612345678b", "a138****5678,139****5678;186****5678b"},
	{"next to CJK", "号码13812345678无效", "号码138****5678无效"},
	{"adjacent with one char between", "13812345678x13912345678", "138****5678x139****5678"},
	{"json number", `{"phone":13812345678}`, `{"phone":138****5678}`},
	// Country code.
	{"86", "8613800000000", "86138****0000"},
	{"+86", "+8613800000000", "+86138****0000"},
	{"0086", "008613800000000", "0086138****0000"},
	{"+86 spaced", "+86 138 0000 0000", "+86 138 **** 0000"},
	{"+86 dashed", "+86-138-0000-0000", "+86-138-****-0000"},
	{"86 then space", "tel 86 13800000000.", "tel 86 138****0000."},
	{"(+86)", "(+86)13800000000", "(+86)138****0000"},
	// Separators.
	{"spaces", "138 0000 0000", "138 **** 0000"},
	{"dashes", "138-0000-0000", "138-****-0000"},
	{"one separator", "1380000 0000", "138**** 0000"},
	{"mixed separators", "138 0000-0000", "138 ****-0000"},
	{"ideographic space", "138\u30000000\u30000000", "138\u3000****\u30000000"},
	{"full-width dash", "138－0000－0000", "138－****－0000"},
	{"followed by space and digits", "13800000000 1234", "138****0000 1234"},
	// Full-width digits (3 bytes each), mixed with ASCII.
	{"full-width", "１３８００００００００", "１３８****００００"},
	{"full-width +86", "＋８６ １３８ ００００ ００００", "＋８６ １３８ **** ００００"},
	{"mixed widths", "１３8０000０000", "１３8****０000"},
	{"full-width in json", `{"phone":"１３８１２３４５６７８"}`, `{"phone":"１３８****５６７８"}`},
	// JSON \u escapes: a phone after an escaped CJK character, and escaped
	// full-width digits (Python's json.dumps writes both).
	{"after escaped CJK", `{"n":"\u5f20\u4e0913800000000"}`, `{"n":"\u5f20\u4e09138****0000"}`},
	{"escaped full-width", `"\uff11\uff13\uff18\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10"`, `"\uff11\uff13\uff18****\uff10\uff10\uff10\uff10"`},
	{"escape is one character", `"\u13800000000"`, `"\u13800000000"`},
	{"escaped backslash then digits", `"\\u13800000000"`, `"\\u138****0000"`},

	// Not phones: longer digit runs, other prefixes, too short, wrong groups.
	{"ms timestamp", "1700000000000", "1700000000000"},
	{"ms timestamp in text", "at 1712345678901 ms", "at 1712345678901 ms"},
	{"13-digit id", "1381234567890", "1381234567890"},
	{"86 then non-mobile", "8612345678901", "8612345678901"},
	{"12 digits", "138123456789", "138123456789"},
	{"phone inside a longer run", "913812345678", "913812345678"},
	{"phone inside a full-width run", "９13812345678", "９13812345678"},
	{"second digit 2", "12345678901", "12345678901"},
	{"10 digits", "1381234567", "1381234567"},
	{"byte count", "wrote 13812345678901 bytes", "wrote 13812345678901 bytes"},
	{"4-4-3 grouping", "1380 0000 000", "1380 0000 000"},
	{"two separators", "138  0000 0000", "138  0000 0000"},
	{"86 with two separators", "86 - 13800000000x", "86 - 138****0000x"},
	{"already masked", "138****5678", "138****5678"},
	{"empty", "", ""},
}

func TestMaskPhonesTable(t *testing.T) {
	for _, c := range maskTable {
		t.Run(c.name, func(t *testing.T) {
			got := MaskPhones(c.in)
			if got != c.want {
				t.Fatalf("MaskPhones(%q) = %q, want %q", c.in, got, c.want)
			}
			if changed := got != c.in; ContainsPhone([]byte(c.in)) != changed {
				t.Fatalf("ContainsPhone(%q) = %v, but MaskPhones changed it: %v", c.in, !changed, changed)
			}
			if MaskPhones(got) != got {
				t.Fatalf("not idempotent: %q -> %q", got, MaskPhones(got))
			}
		})
	}
}

// Invalid UTF-8 is copied through untouched: no panic, and the phones
// around it are still masked.
func TestMaskPhonesInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"\xff13800000000\xfe":     "\xff138****0000\xfe",
		"\xe3\x80138-0000-0000":   "\xe3\x80138-****-0000",
		"１\xef\xbc13800000000":    "１\xef\xbc138****0000", // a cut full-width digit is not a digit
		"13800000000\xef\xbc":     "138****0000\xef\xbc",
		"\xbc\x9113800000000":     "\xbc\x91138****0000", // the tail of a cut full-width digit
		"\xc3(\xa9\x8086 1390000": "\xc3(\xa9\x8086 1390000",
	} {
		got := MaskPhones(in)
		if got != want {
			t.Errorf("MaskPhones(%q) = %q, want %q", in, got, want)
		}
		if bad(got) != bad(in) {
			t.Errorf("MaskPhones(%q) = %q changed the invalid bytes", in, got)
		}
	}
}

// bad counts the bytes of s that are not valid UTF-8.
func bad(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			n++
		}
		i += w
	}
	return n
}

func TestMaskPhoneForms(t *testing.T) {
	for in, want := range map[string]string{
		"13812345678":       "138****5678",
		"+86 138 1234 5678": "+86 138 **** 5678",
		"１３８１２３４５６７８":       "１３８****５６７８",
		"1381234567":        "138***4567", // an invalid phone being reported
		"号码一二三四五六七八":        "号码一***五六七八",
		"1234567":           "*******",
		"123":               "***",
		"":                  "",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhonesJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"phones":["13812345678"],"n":1}`:          `{"phones":["138****5678"],"n":1}`,
		`{"mobile":13812345678,"ts":1700000000000}`: `{"mobile":"138****5678","ts":1700000000000}`,
		`[8613812345678, -13812345678]`:             `["86138****5678", "-138****5678"]`,
		`{"a":"\"13812345678\\"}`:                   `{"a":"\"138****5678\\"}`,
		`{"none":1}`:                                `{"none":1}`,
		`not json 138 1234 5678`:                    `not json 138 **** 5678`,
	} {
		got := string(MaskPhonesJSON([]byte(in)))
		if got != want {
			t.Errorf("MaskPhonesJSON(%s) = %s, want %s", in, got, want)
		}
		if json.Valid([]byte(in)) && !json.Valid([]byte(got)) {
			t.Errorf("MaskPhonesJSON(%s) = %s is no longer JSON", in, got)
		}
	}
}

func FuzzMaskPhones(f *testing.F) {
	for _, c := range maskTable {
		f.Add(c.in)
	}
	f.Add("\xff13800000000\xef\xbc")
	f.Add(`"\\\u0031\u0033\u0038\u0030000000000"`)
	f.Fuzz(func(t *testing.T, s string) {
		got := MaskPhones(s)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("MaskPhones(%q) = %q is not valid UTF-8", s, got)
		}
		if bad(got) != bad(s) {
			t.Fatalf("MaskPhones(%q) = %q changed the invalid bytes", s, got)
		}
		if ContainsPhone([]byte(got)) {
			t.Fatalf("MaskPhones(%q) = %q still holds a phone", s, got)
		}
		if again := MaskPhones(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
		if ContainsPhone([]byte(s)) != (got != s) {
			t.Fatalf("ContainsPhone(%q) disagrees with MaskPhones (%q)", s, got)
		}
		if json.Valid([]byte(s)) && !json.Valid(MaskPhonesJSON([]byte(s))) {
			t.Fatalf("MaskPhonesJSON(%s) = %s is no longer JSON", s, MaskPhonesJSON([]byte(s)))
		}
	})
}

// Inputs typical of what MaskPhones sees: an error line with no phone (the
// common case), one with a phone, and a dead letter's payload.
var maskBenchInputs = map[string]string{
	"nophone": `vendor answered 503 Service Unavailable after 1532 ms (attempt 3/8, endpoint sms, msgid 1700000000123-42): upstream connect error`,
	"phone":   `sms gateway rejected 13812345678: code 4001 "手机号码格式错误" (msgid 1700000000123-42)`,
	"payload": `{"endpoint":"sms","sign":"【测试】","content":"您的验证码是 123456，5分钟内有效","phones":["13812345678","13987654321","15011112222","+86 186 1234 5678"],"msgid":"1700000000123-42"}`,
}

func BenchmarkMaskPhones(b *testing.B) {
	for name, in := range maskBenchInputs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MaskPhones(in)
			}
		})
	}
}
