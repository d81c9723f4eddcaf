package tasks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
)

func TestRecordCreateValidation(t *testing.T) {
	ok := RecordCreate{Endpoint: "forms", Table: "app/entry", Data: json.RawMessage(`{"a":1}`)}
	cases := []struct {
		name  string
		mut   func(*RecordCreate)
		field string
	}{
		{"ok", func(*RecordCreate) {}, ""},
		{"no endpoint", func(p *RecordCreate) { p.Endpoint = "" }, "endpoint"},
		{"bad endpoint", func(p *RecordCreate) { p.Endpoint = "a b" }, "endpoint"},
		{"no table", func(p *RecordCreate) { p.Table = " " }, "table"},
		{"no data", func(p *RecordCreate) { p.Data = nil }, "data"},
		{"array data", func(p *RecordCreate) { p.Data = json.RawMessage(`[1]`) }, "data"},
		{"broken data", func(p *RecordCreate) { p.Data = json.RawMessage(`{"a":`) }, "data"},
		{"bad utf8 data", func(p *RecordCreate) { p.Data = json.RawMessage("{\"a\":\"\xff\"}") }, "data"},
		{"long key", func(p *RecordCreate) { p.Key = strings.Repeat("k", 201) }, "key"},
		{"bad utf8 table", func(p *RecordCreate) { p.Table = "app/\xc4\xfa" }, "table"},
		{"bad utf8 key", func(p *RecordCreate) { p.Key = "k\xff" }, "key"},
		{"lone surrogate in data", func(p *RecordCreate) { p.Data = json.RawMessage(`{"a":"\ud83d"}`) }, "data"},
		{"surrogate pair in data", func(p *RecordCreate) { p.Data = json.RawMessage(`{"a":"\ud83d\ude00"}`) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ok
			c.mut(&p)
			_, err := NewRecordCreateTask(p)
			checkField(t, err, c.field)
		})
	}
}

func TestSMSSendValidation(t *testing.T) {
	ok := SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "hi", Sign: "【X】"}
	cases := []struct {
		name  string
		mut   func(*SMSSend)
		field string
	}{
		{"ok", func(*SMSSend) {}, ""},
		{"no phones", func(p *SMSSend) { p.Phones = nil }, "phones"},
		{"bad phone", func(p *SMSSend) { p.Phones = []string{"13800000000", "12345"} }, "phones[1]"},
		{"landline", func(p *SMSSend) { p.Phones = []string{"01012345678"} }, "phones[0]"},
		{"twice", func(p *SMSSend) { p.Phones = []string{"13800000000", "13800000000"} }, "phones[1]"},
		{"empty content", func(p *SMSSend) { p.Content = "  " }, "content"},
		{"subcode letters", func(p *SMSSend) { p.Subcode = "8a" }, "subcode"},
		{"sendtime short", func(p *SMSSend) { p.Sendtime = "2024" }, "sendtime"},
		{"sendtime ok", func(p *SMSSend) { p.Sendtime = "202405051230" }, ""},
		{"bad utf8 content", func(p *SMSSend) { p.Content = "\xc4\xfa\xba\xc3" }, "content"},
		{"bad utf8 sign", func(p *SMSSend) { p.Sign = "【\xc4\xfa】" }, "sign"},
		{"bad utf8 phone", func(p *SMSSend) { p.Phones = []string{"13800000000", "1380000000\xff"} }, "phones[1]"},
		{"bad utf8 subcode", func(p *SMSSend) { p.Subcode = "\xff" }, "subcode"},
		{"bad utf8 key", func(p *SMSSend) { p.Key = "\xe4\xb8" }, "key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ok
			c.mut(&p)
			_, err := NewSMSSendTask(p)
			checkField(t, err, c.field)
		})
	}
}

func checkField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want a FieldError on %s, got %v", field, err)
	}
	if fe.Field != field {
		t.Fatalf("error names field %q, want %q (%v)", fe.Field, field, err)
	}
}

func TestPhoneMaskedInErrors(t *testing.T) {
	_, err := NewSMSSendTask(SMSSend{Endpoint: "sms", Phones: []string{"1380000000x1"}, Content: "x"})
	if err == nil || strings.Contains(err.Error(), "1380000000x1") {
		t.Fatalf("phone must be masked in %v", err)
	}
}

func TestTaskIDAndOptions(t *testing.T) {
	if TaskID("") != "" {
		t.Fatal("empty key must give empty id")
	}
	if got := TaskID("order-42"); got != "order-42" {
		t.Fatalf("plain key kept readable, got %q", got)
	}
	weird := "订单 42"
	id := TaskID(weird)
	if id == weird || !strings.HasPrefix(id, "h-") || id != TaskID(weird) {
		t.Fatalf("non-plain key must hash stably, got %q", id)
	}
	task, err := NewSMSSendTask(SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "x", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	var back SMSSend
	if err := json.Unmarshal(task.Payload(), &back); err != nil || back.Key != "k1" || back.Phones[0] != "13800000000" {
		t.Fatalf("payload round trip: %+v %v", back, err)
	}
	if task.Type() != TypeSMSSend {
		t.Fatalf("type %q", task.Type())
	}
}

func TestPayloadLimit(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", MaxPayloadBytes) + `"}`
	_, err := NewRecordCreateTask(RecordCreate{Endpoint: "f", Table: "t", Data: json.RawMessage(big)})
	checkField(t, err, "payload")
}

func TestValidateTable(t *testing.T) {
	cases := []struct {
		vendor, table string
		ok            bool
	}{
		{"baibaoyun", "app/entry", true},
		{"baibaoyun", "app", false},
		{"baibaoyun", "a/b/c", false},
		{"yesapi", "okayapi_message", true},
		{"yesapi", "bad-name!", false},
		{"dhgjcloud", "/api/v1/records", true},
		{"dhgjcloud", "/../etc", false},
		{"caihcom", "x", false},
	}
	for _, c := range cases {
		if err := ValidateTable(c.vendor, c.table); (err == nil) != c.ok {
			t.Errorf("ValidateTable(%s, %q) = %v, want ok=%v", c.vendor, c.table, err, c.ok)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	if got := MaskPhone("13812345678"); got != "138****5678" {
		t.Fatalf("got %q", got)
	}
	if got := MaskPhone("123"); got != "***" {
		t.Fatalf("got %q", got)
	}
}

func TestOptionsQueue(t *testing.T) {
	opts := Options("forms", "k")
	var queue, id string
	for _, o := range opts {
		switch o.Type() {
		case asynq.QueueOpt:
			queue = o.Value().(string)
		case asynq.TaskIDOpt:
			id = o.Value().(string)
		}
	}
	if queue != "forms" || id != "k" {
		t.Fatalf("queue %q id %q", queue, id)
	}
}

// The reason names what is wrong and where, and for data the member.
func TestUTF8Reasons(t *testing.T) {
	_, err := NewSMSSendTask(SMSSend{Endpoint: "sms", Phones: []string{"13800000000"}, Content: "ok\xff"})
	if err == nil || err.Error() != "content: is not valid UTF-8 (byte 0xFF at byte offset 2)" {
		t.Fatalf("content: %v", err)
	}
	_, err = NewRecordCreateTask(RecordCreate{Endpoint: "f", Table: "t", Data: json.RawMessage(`{"a":{"name":"\udc00"}}`)})
	if err == nil || !strings.Contains(err.Error(), `\udc00 at byte offset 14 is half of a UTF-16 surrogate pair) in data.a.name`) {
		t.Fatalf("data: %v", err)
	}
}

func TestBadJSONText(t *testing.T) {
	for _, c := range []struct {
		raw, path string
		bad       bool
	}{
		{`{"a":"x","b":[1,"y",{"c":"\u00e9\ud83d\ude00"}]}`, "", false},
		{`{"a":"\\ud800"}`, "", false}, // an escaped backslash, then text
		{"{\"a\":\"\xff\"}", "a", true},
		{"{\"a\":[1,{\"b\":true},\"\xc3\"]}", "a[2]", true},
		{"[{},[\"x\",\"\xed\xa0\x80\"]]", "[1][1]", true}, // an encoded surrogate is not UTF-8 either
		{`{"a":{"b":"\ud800x"}}`, "a.b", true},
		{`{"a":"\udfff"}`, "a", true},
		{`{"a":"\ud800\u0041"}`, "a", true},
		{`{"a":"\ud800`, "a", true},
		{"{\"ok\":1,\"k\xff\":2}", "", true}, // a bad member name: its object
		{`{"a\u00e9b":{"c":"\udc00"}}`, "aéb.c", true},
		{"\"\xff\"", "", true},
		{"\xff{[\"", "", false}, // malformed: no answer, no panic
	} {
		path, reason, bad := BadJSONText([]byte(c.raw))
		if bad != c.bad || path != c.path || bad && !strings.Contains(reason, "not valid UTF-8") {
			t.Errorf("%q: %q %q %v, want path %q bad %v", c.raw, path, reason, bad, c.path, c.bad)
		}
	}
}
