package jsonpos

import "testing"

func TestWhere(t *testing.T) {
	cases := []struct {
		b    string
		pos  int64
		want string
	}{
		{`{"a":1,}`, 7, "at line 1, column 8 (byte offset 7)"},
		{"{\n  \"a\": 1,\n}", 12, "at line 3, column 1 (byte offset 12)"},
		{`{"名":x}`, 7, "at line 1, column 6 (byte offset 7)"}, // 名 is 3 bytes, one column
		{`{}`, 99, "at line 1, column 3 (byte offset 2)"},
		{`{}`, -1, "at line 1, column 1 (byte offset 0)"},
	}
	for _, c := range cases {
		if got := Where([]byte(c.b), c.pos); got != c.want {
			t.Errorf("Where(%q, %d) = %q, want %q", c.b, c.pos, got, c.want)
		}
	}
}
