package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/vendorq/vendorq/internal/config"
	"github.com/vendorq/vendorq/internal/producer"
	"github.com/vendorq/vendorq/tasks"
)

// FuzzDecodeTask feeds arbitrary bytes to the API's task decoding: as the
// body of /v1/tasks/record, of /v1/tasks/sms and of /v1/tasks:batch (each
// item), up to the task that would be enqueued. It must never panic; a
// refused body is the client's fault (400); and whenever a task is
// accepted, its input was UTF-8, its queued payload still passes tasks'
// validation and holds no U+FFFD that the input did not (no byte or lone
// surrogate escape was silently replaced).
func FuzzDecodeTask(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []string{
		`{"endpoint":"forms","table":"app/entry","data":{"name":"张三","n":[1,{"x":null}]},"key":"order-1"}`,
		`{"endpoint":"sms","phones":["13800000000","13900000001"],"content":"您好 \ud83d\ude00","sign":"【X】","subcode":"12","sendtime":"202601011230"}`,
		`{"items":[{"type":"record","task":{"endpoint":"forms","table":"a/b","data":{}}},{"type":"sms","task":{"endpoint":"sms","phones":["13800000000"],"content":"x"}}]}`,
		"{\"endpoint\":\"sms\",\"phones\":[\"13800000000\"],\"content\":\"\xc4\xfa\"}",
		`{"endpoint":"forms","table":"a/b","data":{"a":"\ud800"}}`,
		`{"endpoint":"forms","table":"a/b","data":{"\\ud800":"\ufffd"}}`,
		`{"items":[1,"x",{"type":"fax"}],"ITEMS":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{kindRecord, kindSMS} {
			it, err := s.prepareTask(kind, body, "", tasks.BatchRef{})
			if err != nil {
				if status, fe := taskError(err, ""); status != http.StatusBadRequest || fe.Reason == "" {
					t.Fatalf("%s %q: refused with %d %+v", kind, body, status, fe)
				}
				continue
			}
			checkAccepted(t, body, it)
		}
		_ = readBatch(bytes.NewReader(body), MaxBatchItems, func(i int, raw []byte) {
			if it, fe := s.prepareItem(raw, i, tasks.BatchRef{}); fe == nil {
				checkAccepted(t, raw, it)
			}
		})
	})
}

// fuzzServer is a server whose producer has a config and no Redis:
// decoding and validation only.
func fuzzServer(tb testing.TB) *Server {
	tb.Helper()
	cfg, err := config.Parse([]byte(`
endpoints:
  forms: {vendor: baibaoyun, base_url: "http://127.0.0.1:1", api_key: fuzz}
  sms: {vendor: caihcom, base_url: "http://127.0.0.1:1", appkey: fuzz, app_id: fuzz, auth_token: fuzz}
`), func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Options{Producer: producer.New(cfg, nil, nil), Token: "fuzz-token-0123456789"})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// checkAccepted checks what an accepted input became (see FuzzDecodeTask).
func checkAccepted(t *testing.T, input []byte, it producer.Item) {
	t.Helper()
	if !utf8.Valid(input) {
		t.Fatalf("accepted input that is not UTF-8: %q", input)
	}
	payload := it.Task.Payload()
	var err error
	switch it.Task.Type() {
	case tasks.TypeRecordCreate:
		var rc tasks.RecordCreate
		if err = json.Unmarshal(payload, &rc); err == nil {
			err = rc.Validate()
		}
	case tasks.TypeSMSSend:
		var sm tasks.SMSSend
		if err = json.Unmarshal(payload, &sm); err == nil {
			err = sm.Validate()
		}
	default:
		t.Fatalf("task type %q", it.Task.Type())
	}
	if err != nil {
		t.Fatalf("queued payload %s of input %q: %v", payload, input, err)
	}
	var decoded any
	if err := json.Unmarshal(payload, &decoded); err != nil {
		t.Fatal(err)
	}
	if got, sent := replacements(decoded), replacementsSent(input); got > sent {
		t.Fatalf("input %q: the queued payload %s has %d U+FFFD, the input %d", input, payload, got, sent)
	}
}

// replacements counts U+FFFD in the strings and member names of v.
func replacements(v any) int {
	switch v := v.(type) {
	case string:
		return bytes.Count([]byte(v), []byte("\uFFFD"))
	case []any:
		n := 0
		for _, e := range v {
			n += replacements(e)
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range v {
			n += replacements(k) + replacements(e)
		}
		return n
	}
	return 0
}

// replacementsSent counts the U+FFFD an input may legitimately carry: as
// such, or escaped (\ufffd in any case; an escaped backslash before it
// only makes the count generous).
func replacementsSent(input []byte) int {
	return bytes.Count(input, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(input), []byte(`\ufffd`))
}
