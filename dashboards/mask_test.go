package dashboards_test

import (
	"fmt"
	"testing"

	"github.com/vendorq/vendorq/dashboards"
)

func TestMaskPhones(t *testing.T) {
	cases := []struct{ in, want string }{
		{"13800000000", "138****0000"},
		{`{"phones":["13812345678","13987654321","15011112222"]}`, `{"phones":["138****5678","139****4321","150****2222"]}`},
		{"a13812345678,13912345678;18612345678b", "a138****5678,139****5678;186****5678b"},
		{`{"phone":"19912345678","name":"张三"}`, `{"phone":"199****5678","name":"张三"}`},
		{"号码13812345678无效", "号码138****5678无效"},
		// The forms tasks.MaskPhones added (its table is tasks/mask_test.go).
		{"+86 138 1234 5678", "+86 138 **** 5678"},
		{"8613812345678", "86138****5678"},
		{"138-1234-5678", "138-****-5678"},
		{"１３８１２３４５６７８", "１３８****５６７８"},
		// Not phones: longer digit runs (timestamps), other prefixes, too short.
		{"1700000000000", "1700000000000"},
		{"12345678901", "12345678901"},
		{"1381234567", "1381234567"},
		{"138****5678", "138****5678"},
	}
	for _, c := range cases {
		if got := dashboards.MaskPhones(c.in); got != c.want {
			t.Errorf("MaskPhones(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPayloadFormatterMasks(t *testing.T) {
	got := dashboards.PayloadFormatter.FormatPayload("sms:send", []byte(`{"phones":["13800138000"]}`))
	if got != `{"phones":["138****8000"]}` {
		t.Fatalf("payload shown as %q", got)
	}
	got = dashboards.ResultFormatter.FormatResult("sms:send", []byte(`sent to 13800138000`))
	if got != `sent to 138****8000` {
		t.Fatalf("result shown as %q", got)
	}
}

func ExampleMaskPhones() {
	fmt.Println(dashboards.MaskPhones(`{"phones":["13800000000","13912345678"]}`))
	// Output: {"phones":["138****0000","139****5678"]}
}
