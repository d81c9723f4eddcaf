package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vendorq/vendorq/tasks"
)

// gbk is "您好" encoded in GBK: what a producer that forgot to convert its
// text sends. It is not UTF-8 (0xC4 starts a 2-byte sequence, 0xFA cannot
// continue it); encoding/json would turn it into U+FFFD silently.
const gbk = "\xc4\xfa\xba\xc3"

// ff is a byte that never occurs in UTF-8.
const ff = "\xff"

// Invalid UTF-8, or a \u escape that is half of a surrogate pair, anywhere
// in a task is refused with 400 naming the field, on every route; nothing
// is enqueued.
func TestInvalidUTF8Refused(t *testing.T) {
	e := newEnv(t)
	const rec, sms = "/v1/tasks/record", "/v1/tasks/sms"
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"sms content", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"` + gbk + `","sign":"【X】"}`, "content"},
		{"sms sign", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"hi","sign":"【` + gbk + `】"}`, "sign"},
		{"sms subcode", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"hi","subcode":"1` + ff + `"}`, "subcode"},
		{"sms sendtime", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"hi","sendtime":"` + ff + `"}`, "sendtime"},
		{"sms phone", sms, `{"endpoint":"sms","phones":["13800000000","1390000000` + ff + `"],"content":"hi"}`, "phones[1]"},
		{"sms key", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"hi","key":"k` + gbk + `"}`, "key"},
		{"sms endpoint", sms, `{"endpoint":"s` + ff + `ms","phones":["13800000000"],"content":"hi"}`, "endpoint"},
		{"record table", rec, `{"endpoint":"forms","table":"app/` + gbk + `","data":{}}`, "table"},
		{"record key", rec, `{"endpoint":"forms","table":"a/b","data":{},"key":"` + gbk[:1] + `"}`, "key"},
		{"record data string", rec, `{"endpoint":"forms","table":"a/b","data":{"name":"` + gbk + `"}}`, "data.name"},
		{"record data nested", rec, `{"endpoint":"forms","table":"a/b","data":{"a":{"b":[1,"ok","` + ff + `"]}}}`, "data.a.b[2]"},
		{"record data member name", rec, `{"endpoint":"forms","table":"a/b","data":{"ok":1,"n` + gbk + `":1}}`, "data"},
		{"lone high surrogate", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"hi \ud83d"}`, "content"},
		{"lone low surrogate", rec, `{"endpoint":"forms","table":"a/b","data":{"name":"\uDE00x"}}`, "data.name"},
		{"reversed pair", sms, `{"endpoint":"sms","phones":["13800000000"],"content":"\ude00\ud83d"}`, "content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", tc.path, tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			errs := a.errors(t)
			if errs[0].Field != tc.field || !strings.Contains(errs[0].Reason, "not valid UTF-8") {
				t.Fatalf("got %+v, want field %q, reason about UTF-8", errs, tc.field)
			}
		})
	}
	if n := e.pending("forms") + e.pending("sms"); n != 0 {
		t.Fatalf("%d tasks enqueued with invalid text", n)
	}
}

// Inside a batch the bad item alone is refused, naming it; the others go on.
func TestInvalidUTF8InBatch(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/v1/tasks:batch", batchOf(t,
		`{"type":"record","task":`+goodRecord+`}`,
		`{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{"name":"`+gbk+`"}}}`,
		`{"type":"sms","task":{"endpoint":"sms","phones":["13800000000"],"content":"\udbff","sign":"【X】"}}`,
		`{"type":"sms","task":{"endpoint":"sms","phones":["13800000000"],"content":"`+gbk+`","sign":"【X】"}}`,
		`{"type":"rec`+ff+`ord","task":{}}`,
	))
	br := decodeBatch(t, a)
	if a.status != http.StatusOK || br.Accepted != 1 || br.Rejected != 4 {
		t.Fatalf("status %d: %+v", a.status, br)
	}
	for i, field := range []string{"", "items[1].task.data.name", "items[2].task.content", "items[3].task.content", "items[4].type"} {
		r := br.Results[i]
		if field == "" {
			continue
		}
		if r.Error == nil || r.Error.Field != field || !strings.Contains(r.Error.Reason, "not valid UTF-8") {
			t.Errorf("result %d: %+v, want field %s", i, r.Error, field)
		}
	}
}

// Valid text passes untouched: a surrogate pair escape, U+FFFD itself,
// and characters outside the BMP, in the payload exactly as sent.
func TestValidUnicodeAccepted(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/v1/tasks/sms", `{"endpoint":"sms","phones":["13800000000"],"content":"\ud83d\ude00 😀 \ufffd � 您好","sign":"【X】","key":"u-1"}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	info, err := e.insp.GetTaskInfo("sms", "u-1")
	if err != nil {
		t.Fatal(err)
	}
	var got tasks.SMSSend
	if err := json.Unmarshal(info.Payload, &got); err != nil || got.Content != "😀 😀 \ufffd \ufffd 您好" {
		t.Fatalf("queued content %q (%v)", got.Content, err)
	}
}

// A charset other than UTF-8 is refused with 415 before the body is read;
// utf-8 in any case, quoted or not, is accepted.
func TestCharset(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=gbk", "application/json;charset=ISO-8859-1", `application/json; charset="utf-16"`} {
		for _, path := range []string{"/v1/tasks/record", "/v1/tasks/sms", "/v1/tasks:batch"} {
			a := e.do("POST", path, goodRecord, "Content-Type", ct)
			if a.status != http.StatusUnsupportedMediaType {
				t.Fatalf("%s %s: status %d, want 415", ct, path, a.status)
			}
			if errs := a.errors(t); errs[0].Field != "Content-Type" || !strings.Contains(errs[0].Reason, "UTF-8") {
				t.Fatalf("%s: %+v", ct, errs)
			}
		}
	}
	for i, ct := range []string{"application/json; charset=UTF-8", `application/json; charset="utf-8"`, "application/json; Charset=Utf-8"} {
		body := strings.Replace(goodRecord, "order-1", "cs-"+string(rune('a'+i)), 1)
		if a := e.do("POST", "/v1/tasks/record", body, "Content-Type", ct); a.status != http.StatusAccepted {
			t.Fatalf("%s: status %d: %s", ct, a.status, a.body)
		}
	}
}
